// Command fakeserver runs the repository's AWS wire fakes as one process, for
// end-to-end scripts, multi-process tests and the benchmark command: Bedrock's
// InvokeModel and GetFoundationModel (package bedrocktest), SQS (sqsqueue/sqstest) and EventBridge's PutEvents
// (eventbridge/eventbridgetest), on one port, told apart by X-Amz-Target as AWS's JSON
// protocols address them (AmazonSQS.*, AWSEvents.*; anything else is Bedrock). Point
// AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL_SQS and
// AWS_ENDPOINT_URL_EVENTBRIDGE at it. They are fakes: the Bedrock one answers with
// images from Easel's offline generator; all check that requests are signed with the
// key pair in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for --region. Queues and
// messages live in the process's memory, shared by every client.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/eventbridge/eventbridgetest"
	"github.com/easelhq/easel/sqsqueue/sqstest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "aws fake:", err)
		os.Exit(1)
	}
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// config is the command line.
type config struct {
	addr, region  string
	latency       time.Duration
	fixed         bool
	queues, buses list
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("fakeserver", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:0", "listen address (loopback)")
	fs.DurationVar(&c.latency, "latency", 0, "added latency per Bedrock call, like a real model")
	fs.StringVar(&c.region, "region", bedrocktest.DefaultRegion, "region requests must be signed for")
	fs.BoolVar(&c.fixed, "fixed-image", false, "answer every Bedrock call with one pre-rendered ~1.5 MB PNG (benchmarks)")
	fs.Var(&c.queues, "sqs-queue", "create an SQS queue: NAME, or NAME:DLQ:MAX_RECEIVES to create DLQ too and redrive to it (repeatable)")
	fs.Var(&c.buses, "event-bus", "create an EventBridge bus besides default (repeatable)")
	return c, fs.Parse(args)
}

// sqsQueues turns --sqs-queue values into sqstest options, dead-letter queues first.
func sqsQueues(region string, specs []string) ([]sqstest.Option, error) {
	var opts []sqstest.Option
	made := map[string]bool{}
	for _, spec := range specs {
		parts := strings.Split(spec, ":")
		switch len(parts) {
		case 1:
			opts = append(opts, sqstest.WithQueue(parts[0], nil))
		case 3:
			name, dlq := parts[0], parts[1]
			n, err := strconv.Atoi(parts[2])
			if err != nil || n < 1 || n > 1000 {
				return nil, fmt.Errorf("--sqs-queue %q: max receives must be 1 to 1000", spec)
			}
			if !made[dlq] {
				opts = append(opts, sqstest.WithQueue(dlq, nil))
				made[dlq] = true
			}
			policy := fmt.Sprintf(`{"deadLetterTargetArn":"arn:aws:sqs:%s:%s:%s","maxReceiveCount":"%d"}`, region, sqstest.Account, dlq, n)
			opts = append(opts, sqstest.WithQueue(name, map[string]string{"RedrivePolicy": policy}))
		default:
			return nil, fmt.Errorf("--sqs-queue %q: want NAME or NAME:DLQ:MAX_RECEIVES", spec)
		}
	}
	return opts, nil
}

// newHandler routes each request to its fake by X-Amz-Target.
func newHandler(c config, accessKey, secret string) (http.Handler, error) {
	opts := []bedrocktest.Option{bedrocktest.WithRegion(c.region), bedrocktest.WithLatency(c.latency)}
	if c.fixed {
		img, err := bedrocktest.NoisyPNG(1024, 1024, 1)
		if err != nil {
			return nil, err
		}
		opts = append(opts, bedrocktest.WithFixedImage(img))
	}
	bedrock := bedrocktest.NewHandler(accessKey, secret, opts...)
	qopts, err := sqsQueues(c.region, c.queues)
	if err != nil {
		return nil, err
	}
	var sqs *sqstest.Handler
	if err := func() (err error) {
		defer func() { // WithQueue panics on an invalid queue
			if r := recover(); r != nil {
				err = fmt.Errorf("--sqs-queue: %v", r)
			}
		}()
		sqs = sqstest.NewHandler(accessKey, secret, append(qopts, sqstest.WithRegion(c.region))...)
		return nil
	}(); err != nil {
		return nil, err
	}
	eopts := []eventbridgetest.Option{eventbridgetest.WithRegion(c.region)}
	for _, b := range c.buses {
		eopts = append(eopts, eventbridgetest.WithBus(b))
	}
	events := eventbridgetest.NewHandler(accessKey, secret, eopts...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/_fake/calls":
			// For end-to-end checks: how many InvokeModel calls each model got.
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(bedrock.CallCounts())
		case strings.HasPrefix(target, "AmazonSQS."):
			sqs.ServeHTTP(w, r)
		case strings.HasPrefix(target, "AWSEvents."):
			events.ServeHTTP(w, r)
		default:
			bedrock.ServeHTTP(w, r)
		}
	}), nil
}

func run(ctx context.Context, args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if ak == "" || sk == "" {
		return errors.New("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: requests must be signed with them")
	}
	h, err := newHandler(c, ak, sk)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	// The first line is read by scripts and tests; keep its form.
	fmt.Printf("bedrock fake listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.NewTextHandler(os.Stderr, nil), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		// Long polls hold connections for up to 20 s: give them a moment, then close.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
