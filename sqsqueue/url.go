package sqsqueue

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Location is what a queue URL names.
type Location struct {
	// Name is the queue's name; URL is set instead when the queue was given by its
	// queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME).
	Name, URL string
	// DeadLetter names the dead-letter queue (a name or a queue URL); "": the one in
	// the queue's RedrivePolicy, if any.
	DeadLetter string
	// MaxReceives is how many receives a message may have before it is dead; 0: the
	// queue's RedrivePolicy maxReceiveCount.
	MaxReceives int
	// Region overrides the SDK configuration's region when set.
	Region string
}

// maxReceivesLimit is SQS's largest maxReceiveCount.
const maxReceivesLimit = 1000

// ParseURL parses sqs://NAME or a queue URL (http(s)://HOST/ACCOUNT/NAME), either with
// the parameters dlq (a queue name or URL), max_receives (1..1000) and region. Unknown
// parameters are an error, so a typo cannot silently drop the dead-letter queue.
func ParseURL(rawURL string) (Location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Location{}, fmt.Errorf("parse queue URL: %w", err)
	}
	var loc Location
	switch u.Scheme {
	case "sqs":
		if u.User != nil || u.Port() != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" || u.Fragment != "" {
			return Location{}, fmt.Errorf("queue URL %q: want sqs://NAME", rawURL)
		}
		loc.Name = u.Host
	case "https", "http":
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if u.Host == "" || u.User != nil || u.Fragment != "" || len(parts) != 2 || parts[0] == "" {
			return Location{}, fmt.Errorf("queue URL %q: want https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", rawURL)
		}
		loc.Name = parts[1]
		plain := *u
		plain.RawQuery = ""
		loc.URL = plain.String()
	default:
		return Location{}, fmt.Errorf("queue URL %q: scheme is %q, want sqs or https", rawURL, u.Scheme)
	}
	if err := checkName(loc.Name); err != nil {
		return Location{}, fmt.Errorf("queue URL %q: %w", rawURL, err)
	}
	for name, values := range u.Query() {
		if len(values) != 1 || values[0] == "" {
			return Location{}, fmt.Errorf("queue URL %q: parameter %q wants one non-empty value", rawURL, name)
		}
		v := values[0]
		switch name {
		case "dlq":
			dn := v
			if strings.Contains(v, "://") {
				d, err := ParseURL(v)
				if err != nil || d.URL == "" {
					return Location{}, fmt.Errorf("queue URL %q: dlq %q is not a queue name or queue URL", rawURL, v)
				}
				dn = d.Name
			}
			if err := checkName(dn); err != nil {
				return Location{}, fmt.Errorf("queue URL %q: dlq: %w", rawURL, err)
			}
			loc.DeadLetter = v
		case "max_receives":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxReceivesLimit {
				return Location{}, fmt.Errorf("queue URL %q: max_receives=%q: want 1 to %d", rawURL, v, maxReceivesLimit)
			}
			loc.MaxReceives = n
		case "region":
			loc.Region = v
		default:
			return Location{}, fmt.Errorf("queue URL %q: unknown parameter %q (want dlq, max_receives, region)", rawURL, name)
		}
	}
	if loc.DeadLetter != "" && loc.DeadLetter == loc.Name {
		return Location{}, fmt.Errorf("queue URL %q: the dead-letter queue cannot be the queue itself", rawURL)
	}
	return loc, nil
}

// checkName applies SQS's rules for standard queue names: 1 to 80 letters, digits,
// hyphens and underscores. FIFO queues are refused: a job queue needs per-message
// delays and must not hold a user's jobs back behind each other.
func checkName(name string) error {
	if strings.HasSuffix(name, ".fifo") {
		return fmt.Errorf("queue %q is a FIFO queue: Easel needs a standard queue (per-message delays, no head-of-line blocking)", name)
	}
	if len(name) < 1 || len(name) > 80 {
		return fmt.Errorf("queue name %q must have 1 to 80 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("queue name %q: character %q not allowed", name, c)
		}
	}
	return nil
}
