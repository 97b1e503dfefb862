// Package eventbridge is the Events adapter over Amazon EventBridge (AWS SDK for Go v2):
// it publishes job events to one event bus with PutEvents. Endpoint, region and
// credentials come from the SDK's standard settings (AWS_REGION,
// AWS_ENDPOINT_URL_EVENTBRIDGE, the default credential chain); the URL names only the
// bus.
//
// Each event becomes one entry: source "easel", detail-type "Image Generation
// Succeeded", "Image Generation Failed" or "Image Generation Canceled", and a detail
// shaped like the webhook body, with the event's stable id and owner added for rules
// and deduplication:
//
//	{"id": "<job id>.<seq>", "type": "job.succeeded", "timestamp": "<RFC 3339>",
//	 "user_id": "<owner>", "data": <the job as the API shows it>}
package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	ebsdk "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel"
)

// Source is the source of every event Easel publishes.
const Source = "easel"

// DetailTypes maps the job events Easel publishes to their EventBridge detail-types.
var DetailTypes = map[string]string{
	easel.EventJobSucceeded: "Image Generation Succeeded",
	easel.EventJobFailed:    "Image Generation Failed",
	easel.EventJobCanceled:  "Image Generation Canceled",
}

// PutEvents limits.
const (
	// MaxEntries is the most entries one PutEvents call takes.
	MaxEntries = 10
	// MaxBytes is the most one call's entries may add up to, as EventBridge counts
	// them: 14 bytes for the time plus the UTF-8 bytes of source, detail-type and
	// detail. An event larger than this alone cannot be published.
	MaxBytes = 256 * 1024
	// attempts is how often an entry that failed with a retryable code
	// (ThrottlingException, InternalFailure) is tried within one Publish.
	attempts = 3
	// backoff is the first pause before such a retry; it doubles, with jitter.
	backoff = 100 * time.Millisecond
)

// Publisher publishes job events to one EventBridge bus.
type Publisher struct {
	client *ebsdk.Client
	bus    string
}

var _ easel.Events = (*Publisher)(nil)

// Location is what an eventbridge:// URL names.
type Location struct {
	Bus string
	// Region overrides the SDK configuration's region when set.
	Region string
}

// ParseURL parses eventbridge://BUS or eventbridge://BUS?region=REGION ("default" is
// the account's default bus).
func ParseURL(rawURL string) (Location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Location{}, fmt.Errorf("parse events URL: %w", err)
	}
	if u.Scheme != "eventbridge" {
		return Location{}, fmt.Errorf("events URL %q: scheme is %q, want eventbridge", rawURL, u.Scheme)
	}
	if u.User != nil || u.Port() != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("events URL %q: want eventbridge://BUS", rawURL)
	}
	loc := Location{Bus: u.Host}
	if err := checkBus(loc.Bus); err != nil {
		return Location{}, fmt.Errorf("events URL %q: %w", rawURL, err)
	}
	for name, values := range u.Query() {
		if name != "region" {
			return Location{}, fmt.Errorf("events URL %q: unknown parameter %q (want region)", rawURL, name)
		}
		if len(values) != 1 || values[0] == "" {
			return Location{}, fmt.Errorf("events URL %q: want one non-empty region", rawURL)
		}
		loc.Region = values[0]
	}
	return loc, nil
}

// checkBus applies EventBridge's rules for custom bus names: 1 to 256 of
// [A-Za-z0-9._-] (url.Parse has lowered nothing: hosts keep their case).
func checkBus(name string) error {
	if len(name) < 1 || len(name) > 256 {
		return fmt.Errorf("event bus name %q must have 1 to 256 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("event bus name %q: character %q not allowed", name, c)
		}
	}
	return nil
}

// Open returns a Publisher for rawURL (see ParseURL) using cfg, typically from
// config.LoadDefaultConfig. It makes no request: publishing needs only
// events:PutEvents on the bus.
func Open(_ context.Context, cfg aws.Config, rawURL string) (*Publisher, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if loc.Region == "" && cfg.Region == "" {
		return nil, fmt.Errorf("events URL %q: no AWS region: set AWS_REGION or add ?region=", rawURL)
	}
	client := ebsdk.NewFromConfig(cfg, func(o *ebsdk.Options) {
		if loc.Region != "" {
			o.Region = loc.Region
		}
	})
	return &Publisher{client: client, bus: loc.Bus}, nil
}

// Bus returns the bus name.
func (p *Publisher) Bus() string { return p.bus }

// detail is an entry's detail.
type detail struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	UserID    string          `json:"user_id"`
	Data      json.RawMessage `json:"data"`
}

// entry is one event ready to send, with its size as EventBridge counts it.
type entry struct {
	id   string
	in   types.PutEventsRequestEntry
	size int
}

// Publish sends evs in batches of at most MaxEntries entries and MaxBytes. Entries
// that fail with a retryable code are retried (3 tries in all, backing off from
// 100 ms); Publish fails if any event is still not accepted, naming them. Nothing is
// sent when an event cannot be published at all (an unknown type, a detail that is not
// JSON, an entry over MaxBytes).
func (p *Publisher) Publish(ctx context.Context, evs []easel.Event) error {
	entries := make([]entry, 0, len(evs))
	for _, ev := range evs {
		e, err := p.entry(ev)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && n < MaxEntries && size+entries[n].size <= MaxBytes {
			size += entries[n].size
			n++
		}
		if err := p.send(ctx, entries[:n]); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

func (p *Publisher) entry(ev easel.Event) (entry, error) {
	dt, ok := DetailTypes[ev.Type]
	if !ok {
		return entry{}, fmt.Errorf("publish event %s: type %q is not published to EventBridge (want job.succeeded, job.failed or job.canceled)", ev.ID, ev.Type)
	}
	if !json.Valid(ev.Detail) || !bytes.HasPrefix(bytes.TrimSpace(ev.Detail), []byte("{")) {
		return entry{}, fmt.Errorf("publish event %s: its detail is not a JSON object", ev.ID)
	}
	at := ev.Time.UTC()
	b, err := json.Marshal(detail{ID: ev.ID, Type: ev.Type, Timestamp: at.Format(time.RFC3339Nano), UserID: ev.UserID, Data: ev.Detail})
	if err != nil {
		return entry{}, fmt.Errorf("publish event %s: %w", ev.ID, err)
	}
	in := types.PutEventsRequestEntry{
		EventBusName: &p.bus,
		Source:       aws.String(Source),
		DetailType:   aws.String(dt),
		Detail:       aws.String(string(b)),
	}
	size := len(Source) + len(dt) + len(b)
	if !ev.Time.IsZero() {
		in.Time = &at
		size += 14
	}
	if size > MaxBytes {
		return entry{}, fmt.Errorf("publish event %s: %d bytes, over EventBridge's %d per entry", ev.ID, size, MaxBytes)
	}
	return entry{id: ev.ID, in: in, size: size}, nil
}

// send puts one batch, retrying the entries that failed with a retryable code.
func (p *Publisher) send(ctx context.Context, batch []entry) error {
	pause := backoff
	for try := 1; ; try++ {
		in := make([]types.PutEventsRequestEntry, len(batch))
		for i, e := range batch {
			in[i] = e.in
		}
		out, err := p.client.PutEvents(ctx, &ebsdk.PutEventsInput{Entries: in})
		if err != nil {
			return p.translate(err)
		}
		if out.FailedEntryCount == 0 {
			return nil
		}
		if len(out.Entries) != len(batch) {
			return fmt.Errorf("put events on bus %q: %d of %d entries failed, and the answer has %d results for %d entries",
				p.bus, out.FailedEntryCount, len(batch), len(out.Entries), len(batch))
		}
		var retry []entry
		var failures []string
		retryable := true
		for i, r := range out.Entries {
			if r.ErrorCode == nil {
				continue
			}
			code := aws.ToString(r.ErrorCode)
			retry = append(retry, batch[i])
			failures = append(failures, fmt.Sprintf("%s: %s (%s)", batch[i].id, code, aws.ToString(r.ErrorMessage)))
			if code != "ThrottlingException" && code != "InternalFailure" && code != "InternalException" {
				retryable = false
			}
		}
		if !retryable || try == attempts {
			err := fmt.Errorf("put events on bus %q: %d of %d events failed: %s", p.bus, len(retry), len(batch), strings.Join(failures, "; "))
			if retryable {
				e := easel.WrapError(easel.ERateLimited, err, "The event bus is busy; try again shortly.")
				e.RetryAfter = time.Second
				return e
			}
			return err
		}
		d := pause/2 + rand.N(pause)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause *= 2
		batch = retry
	}
}

// translate turns an SDK error into a domain error, keeping it as the cause:
// throttling and 503 → ERateLimited (RetryAfter 1s); a missing bus, access denied and
// anything else → EInternal (a deployment fault).
func (p *Publisher) translate(err error) error {
	cause := fmt.Errorf("put events on bus %q: %w", p.bus, err)
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch {
	case code == "ThrottlingException" || code == "Throttling" || code == "LimitExceededException" || status == http.StatusServiceUnavailable:
		e := easel.WrapError(easel.ERateLimited, cause, "The event bus is busy; try again shortly.")
		e.RetryAfter = time.Second
		return e
	case code == "ResourceNotFoundException":
		return easel.WrapError(easel.EInternal, cause, "EventBridge bus %q does not exist", p.bus)
	}
	return cause
}
