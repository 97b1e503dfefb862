package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/eventbridge"
	"github.com/easelhq/easel/service"
	"github.com/easelhq/easel/sqlitestore"
	"github.com/easelhq/easel/sqsqueue"
	"github.com/easelhq/easel/webhook"
)

// jobFlags are serve's settings for jobs: the queue, workers, limits, notifications.
type jobFlags struct {
	queue         string
	workers       int
	userQueue     int
	modelRates    []string
	lease         time.Duration
	retention     time.Duration
	maxAttempts   int
	events        string
	eventsPrompt  bool
	webhooks      bool
	webhookPriv   bool
	webhookGiveUp time.Duration
}

func (j *jobFlags) bind(f *envFlags) {
	f.String(&j.queue, "queue", "EASEL_QUEUE", "", "job queue: sqlite (in a SQLite catalog's file; the default with one), sqs://QUEUE or an SQS queue URL, or none (only requests that run at once)")
	f.Int(&j.workers, "workers", "EASEL_WORKERS", 0, "queued jobs this instance runs at once, sharing --max-inflight's slots (0: --max-inflight, or 16 when that is unlimited)")
	f.Int(&j.userQueue, "user-queue", "EASEL_USER_QUEUE", service.DefaultUserQueue, "queued jobs per user; more are refused with 429 (0: unlimited)")
	f.List(&j.modelRates, "model-rate", "EASEL_MODEL_RATE", "MODEL=N/min: calls to a model per minute across every instance sharing the catalog")
	f.Duration(&j.lease, "job-lease", "EASEL_JOB_LEASE", service.DefaultLease, "how long a worker's claim on a job lasts without renewal; also the queue visibility timeout (must be positive)")
	f.Duration(&j.retention, "job-retention", "EASEL_JOB_RETENTION", service.DefaultRetention, "how long finished jobs are kept (images are kept until deleted) (must be positive)")
	f.Int(&j.maxAttempts, "job-max-attempts", "EASEL_JOB_MAX_ATTEMPTS", service.DefaultMaxAttempts, "how many times a job is started (crashes, drains) before it fails (must be positive)")
	f.String(&j.events, "events", "EASEL_EVENTS", "", "publish terminal job events: eventbridge://BUS (default: none)")
	f.Bool(&j.eventsPrompt, "events-include-prompt", "EASEL_EVENTS_INCLUDE_PROMPT", false, "keep prompts in published events in production (they are left out otherwise)")
	f.Bool(&j.webhooks, "webhooks", "EASEL_WEBHOOKS", true, "accept webhook URLs on jobs")
	f.Bool(&j.webhookPriv, "webhook-allow-private", "EASEL_WEBHOOK_ALLOW_PRIVATE", false, "let webhooks reach http:// URLs and loopback or private addresses: development and tests only")
	f.Duration(&j.webhookGiveUp, "webhook-retry-for", "EASEL_WEBHOOK_RETRY_FOR", service.DefaultWebhookGiveUp, "how long a failing webhook delivery is retried (must be positive)")
}

func (j *jobFlags) check() error {
	for _, v := range []struct {
		name  string
		value float64
	}{
		{"job-lease", j.lease.Seconds()},
		{"job-retention", j.retention.Seconds()},
		{"job-max-attempts", float64(j.maxAttempts)},
		{"webhook-retry-for", j.webhookGiveUp.Seconds()},
	} {
		if err := checkNumber(v.name, v.value, true); err != nil {
			return err
		}
	}
	for _, v := range []struct {
		name  string
		value int
	}{{"workers", j.workers}, {"user-queue", j.userQueue}} {
		if err := checkNumber(v.name, float64(v.value), false); err != nil {
			return err
		}
	}
	if j.lease < 3*time.Second {
		return usageError{fmt.Errorf("--job-lease %s: at least 3s", j.lease)}
	}
	_, err := parseModelRates(j.modelRates)
	return err
}

// parseModelRates reads MODEL=N/min settings (the "/min" may be left out).
func parseModelRates(list []string) (map[string]int, error) {
	out := map[string]int{}
	for _, s := range list {
		model, rate, ok := strings.Cut(s, "=")
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rate), "/min"))
		if !ok || model == "" || err != nil || n <= 0 {
			return nil, usageError{fmt.Errorf("--model-rate %q: want MODEL=N/min with N > 0", s)}
		}
		out[strings.TrimSpace(model)] = n
	}
	return out, nil
}

// openJobs opens the queue, the event bus and the webhook sender, and returns the
// service's job configuration and what to close when done.
func openJobs(ctx context.Context, j *jobFlags, cat *catalog, l *awsLoader, production bool, log *slog.Logger) (service.JobConfig, func(), error) {
	cfg := service.JobConfig{
		Workers: j.workers, UserQueue: j.userQueue, Lease: j.lease, Retention: j.retention,
		MaxAttempts: j.maxAttempts, WebhookGiveUp: j.webhookGiveUp,
		EventsIncludePrompt: j.eventsPrompt || !production,
	}
	if j.userQueue == 0 {
		cfg.UserQueue = -1
	}
	cfg.ModelRates, _ = parseModelRates(j.modelRates)
	closer := func() {}
	switch q := j.queue; {
	case q == "none":
	case q == "" && cat.sqlite == nil:
		log.Warn("no job queue: requests with Prefer: respond-async are refused; set --queue sqs://QUEUE")
	case q == "" || q == "sqlite":
		if cat.sqlite == nil {
			return cfg, closer, usageError{fmt.Errorf("--queue sqlite needs a SQLite catalog")}
		}
		// One process runs the jobs of a SQLite file; holding the lock, it knows that
		// jobs left running were left by a process that is gone.
		unlock, err := cat.sqlite.LockWorkers()
		switch {
		case errors.Is(err, sqlitestore.ErrNoWorkerLock):
			// Jobs of a process that died wait for their leases to end.
		case err != nil:
			return cfg, closer, err
		default:
			cfg.RecoverOnStart = true
		}
		closer = unlock
		q := cat.sqlite.Queue(sqlitestore.QueueOptions{MaxReceives: j.maxAttempts + 2})
		if cfg.RecoverOnStart {
			// Messages received by a process that is gone need not wait out their
			// visibility timeouts.
			if n, err := q.ReleaseInFlight(ctx); err != nil {
				log.Warn("release queue messages of a previous run", "err", err)
			} else if n > 0 {
				log.Info("released queue messages of a previous run", "messages", n)
			}
		}
		cfg.Queue = q
	case strings.HasPrefix(q, "sqs://") || strings.HasPrefix(q, "https://"):
		awsCfg, err := l.load(ctx)
		if err != nil {
			return cfg, closer, fmt.Errorf("queue %q: %w", q, err)
		}
		sq, err := sqsqueue.Open(ctx, awsCfg, q)
		if err != nil {
			return cfg, closer, err
		}
		cfg.Queue = sq
	default:
		return cfg, closer, usageError{fmt.Errorf("--queue %q: want sqlite, sqs://QUEUE, an SQS queue URL or none", q)}
	}
	if j.events != "" {
		if !strings.HasPrefix(j.events, "eventbridge://") {
			return cfg, closer, usageError{fmt.Errorf("--events %q: want eventbridge://BUS", j.events)}
		}
		awsCfg, err := l.load(ctx)
		if err != nil {
			return cfg, closer, fmt.Errorf("events %q: %w", j.events, err)
		}
		pub, err := eventbridge.Open(ctx, awsCfg, j.events)
		if err != nil {
			return cfg, closer, err
		}
		cfg.Events = pub
	}
	if j.webhooks {
		if j.webhookPriv {
			if production {
				return cfg, closer, usageError{fmt.Errorf("--webhook-allow-private is for development and tests, not --env production")}
			}
			log.Warn("webhooks may reach loopback and private addresses (--webhook-allow-private)")
		}
		cfg.Webhooks = webhook.New(webhook.Options{AllowPrivate: j.webhookPriv, AllowHTTP: j.webhookPriv})
	}
	return cfg, closer, nil
}

var _ easel.Queue = (*sqsqueue.Queue)(nil)
