package service

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/easelhq/easel"
)

// JobConfig configures jobs: the queue, this instance's workers, leases and
// notifications. The zero value runs jobs without a queue (only synchronous requests,
// run at once by the instance that took them) and without notifications.
type JobConfig struct {
	// Queue hands queued jobs to workers; nil: asynchronous requests are refused.
	Queue easel.Queue
	// Workers bounds the queued jobs this instance runs at once (they share the
	// instance's MaxInflight slots with synchronous requests). 0: MaxInflight, or 16
	// when that is unlimited.
	Workers int
	// Instance names this instance in leases and logs; "": host name, pid and a random
	// suffix.
	Instance string
	// Lease is how long a worker's claim lasts without renewal (renewed every third
	// of it); also the queue visibility timeout. 0: DefaultLease.
	Lease time.Duration
	// UserQueue bounds a user's queued jobs; more are refused with 429. 0:
	// DefaultUserQueue; negative: unlimited.
	UserQueue int
	// ModelRates bounds model calls per minute, by model id, across every instance
	// sharing the catalog (a fixed one-minute window counted in the catalog).
	ModelRates map[string]int
	// MaxAttempts bounds the claims of one job (a crash, a dead worker or a drain
	// each cost one); past it the job fails. 0: DefaultMaxAttempts.
	MaxAttempts int
	// Retention is how long a finished job is kept. 0: DefaultRetention.
	Retention time.Duration
	// Events publishes terminal job events (an event bus); nil: none.
	Events easel.Events
	// EventsIncludePrompt keeps prompts in published events (they are removed
	// otherwise).
	EventsIncludePrompt bool
	// Webhooks delivers webhooks; nil: requests with a webhook are refused.
	Webhooks easel.WebhookSender
	// WebhookGrace is how long the previous webhook secret still signs after a
	// rotation. 0: DefaultWebhookGrace.
	WebhookGrace time.Duration
	// WebhookGiveUp is how long a webhook event is retried. 0: DefaultWebhookGiveUp.
	WebhookGiveUp time.Duration
	// RecoverOnStart hands back every running job when the workers start: set it when
	// this process is known to be the only one running jobs from the catalog (the
	// local SQLite setup holds a lock for that), so that jobs of a crashed process
	// run again at once instead of after their leases end.
	RecoverOnStart bool
	// ReapEvery is how often stale leases, lost messages, dead letters and due
	// notifications are looked for. 0: DefaultReapEvery.
	ReapEvery time.Duration
}

// Defaults of JobConfig.
const (
	DefaultLease         = 30 * time.Second
	DefaultUserQueue     = 20
	DefaultMaxAttempts   = 5
	DefaultRetention     = 7 * 24 * time.Hour
	DefaultWebhookGrace  = 24 * time.Hour
	DefaultWebhookGiveUp = 24 * time.Hour
	DefaultReapEvery     = 10 * time.Second
	// lostMessageAfter is how long a job may stay queued before the reaper sends its
	// message again, in case the first was lost.
	lostMessageAfter = 10 * time.Minute
	// throttleGiveUp is how long a job keeps waiting for the model's throttling to
	// pass before it fails with rate_limited.
	throttleGiveUp = 30 * time.Minute
)

func (c JobConfig) withDefaults(l Limits) JobConfig {
	if c.Workers <= 0 {
		c.Workers = l.MaxInflight
		if c.Workers <= 0 {
			c.Workers = 16
		}
	}
	if c.Instance == "" {
		host, _ := os.Hostname()
		c.Instance = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), newToken()[:6])
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.UserQueue == 0 {
		c.UserQueue = DefaultUserQueue
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.WebhookGrace <= 0 {
		c.WebhookGrace = DefaultWebhookGrace
	}
	if c.WebhookGiveUp <= 0 {
		c.WebhookGiveUp = DefaultWebhookGiveUp
	}
	if c.ReapEvery <= 0 {
		c.ReapEvery = DefaultReapEvery
	}
	return c
}

// newToken returns 128 random bits in hex: lease tokens.
func newToken() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errSkip stops updateJob without writing: the job needs no change.
var errSkip = errors.New("no change")

// maxCASRetries bounds the read-modify-write rounds of one job update.
const maxCASRetries = 20

// updateJob reads job id, lets change modify it and writes it back if nobody wrote in
// between, retrying from a fresh read otherwise. change returning errSkip ends it
// without a write (the job is returned with errSkip); another error ends it too.
// Watchers in this process are woken after a write.
func (s *Service) updateJob(ctx context.Context, id string, change func(j *easel.Job) error) (*easel.Job, error) {
	return s.updateKnownJob(ctx, id, nil, change)
}

// updateKnownJob is updateJob starting from known, the job as this instance last wrote
// or read it (nil: read it first). A worker holding a job's lease knows it, so its
// writes cost one catalog call instead of two; if someone else wrote meanwhile (a
// cancel), the compare-and-swap fails and the job is read again.
func (s *Service) updateKnownJob(ctx context.Context, id string, known *easel.Job, change func(j *easel.Job) error) (*easel.Job, error) {
	for range maxCASRetries {
		j := known
		known = nil
		if j != nil {
			j = j.Clone()
		} else {
			var err error
			if j, err = s.catalog.LookupJob(ctx, id); err != nil {
				return nil, err
			}
		}
		if err := change(j); err != nil {
			return j, err
		}
		err := s.catalog.UpdateJob(ctx, j)
		if err == nil {
			s.hub.changed(id)
			return j, nil
		}
		if !easel.IsCode(err, easel.EConflict) {
			return nil, err
		}
		// Someone else wrote the job meanwhile: read it again after a short pause.
		time.Sleep(time.Duration(rand.Int64N(int64(5 * time.Millisecond))))
	}
	return nil, fmt.Errorf("update job %s: still conflicting after %d tries", id, maxCASRetries)
}

// finishJob ends a job in place: the terminal status and event, when it ended, when it
// may be deleted, and (when anything is to be made or delivered afterwards)
// Notify.DueAt so that the after-work runs.
func (s *Service) finishJob(j *easel.Job, status easel.JobStatus, jerr *easel.JobError, now time.Time) {
	j.Status = status
	j.Error = jerr
	j.FinishedAt = now.UTC().Truncate(time.Millisecond)
	j.Lease = nil
	j.CancelRequested = false
	ev := j.Append(easel.TerminalEvent(status), now)
	ev.Error = jerr
	j.ExpiresAt = j.FinishedAt.Add(s.jobs.Retention)
	s.markAfterWork(j, now)
}

// jobError turns an error into what a failed job shows.
func jobError(err error) *easel.JobError {
	var e *easel.Error
	if errors.As(err, &e) {
		return &easel.JobError{Code: e.Code, Message: easel.ErrorMessage(err), Param: e.Param}
	}
	return &easel.JobError{Code: easel.EInternal, Message: easel.ErrorMessage(err)}
}

// errorOfJob turns a failed job's error back into the domain's.
func errorOfJob(j *easel.Job) error {
	if j.Error == nil {
		return easel.Errorf(easel.EInternal, "The job failed.")
	}
	return &easel.Error{Code: j.Error.Code, Message: j.Error.Message, Param: j.Error.Param}
}

// JobOptions are how a caller wants a job run.
type JobOptions struct {
	// Webhook is an https URL to notify ("" for none); WebhookEvents the event types
	// to send there (empty: the terminal ones).
	Webhook       string
	WebhookEvents []string
}

// webhookEventTypes are the event types a webhook may ask for.
var webhookEventTypes = []string{
	easel.EventJobQueued, easel.EventJobRunning, easel.EventImageReady,
	easel.EventJobSucceeded, easel.EventJobFailed, easel.EventJobCanceled,
}

func (s *Service) checkJobOptions(ctx context.Context, opt *JobOptions) error {
	if opt.Webhook == "" {
		if len(opt.WebhookEvents) > 0 {
			return easel.ParamErrorf("webhook_events", "webhook_events needs a webhook.")
		}
		return nil
	}
	if s.jobs.Webhooks == nil {
		return easel.ParamErrorf("webhook", "This server does not send webhooks.")
	}
	if len(opt.Webhook) > 2048 {
		return easel.ParamErrorf("webhook", "The webhook URL is longer than 2048 characters.")
	}
	if len(opt.WebhookEvents) == 0 {
		opt.WebhookEvents = []string{easel.EventJobSucceeded, easel.EventJobFailed, easel.EventJobCanceled}
	}
	seen := map[string]bool{}
	for _, t := range opt.WebhookEvents {
		if !slices.Contains(webhookEventTypes, t) {
			return easel.ParamErrorf("webhook_events", "webhook_events may hold %s.", strings.Join(webhookEventTypes, ", "))
		}
		if seen[t] {
			return easel.ParamErrorf("webhook_events", "webhook_events lists %s twice.", t)
		}
		seen[t] = true
	}
	// Last: it resolves the host.
	return s.jobs.Webhooks.Check(ctx, opt.Webhook)
}

// GetJob returns one of the caller's jobs. Another user's job is ENotFound.
func (s *Service) GetJob(ctx context.Context, p *Principal, id string) (*easel.Job, error) {
	if !easel.ValidID(id) {
		return nil, jobNotFound()
	}
	j, err := s.catalog.GetJob(ctx, p.UserID, id)
	if easel.IsCode(err, easel.ENotFound) {
		return nil, jobNotFound()
	}
	return j, err
}

func jobNotFound() error { return easel.Errorf(easel.ENotFound, "No such job.") }

// JobPage is a page of a user's jobs.
type JobPage struct {
	Jobs []*easel.Job
	// Next is the sealed cursor of the next page, "" at the end.
	Next string
}

// ListJobs returns a page of the caller's jobs, newest first, optionally only those in
// the given statuses.
func (s *Service) ListJobs(ctx context.Context, p *Principal, statuses []easel.JobStatus, limit int, cursor string) (*JobPage, error) {
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 1 || limit > easel.MaxPageSize {
		return nil, easel.ParamErrorf("limit", "limit must be between 1 and %d.", easel.MaxPageSize)
	}
	for _, st := range statuses {
		if !st.Valid() {
			return nil, easel.ParamErrorf("status", "status may hold queued, running, succeeded, failed and canceled.")
		}
	}
	opt := easel.JobListOptions{Statuses: statuses, Limit: limit}
	if cursor != "" {
		c, err := s.openCursor(ctx, p.UserID, cursor)
		if err != nil {
			return nil, err
		}
		opt.After = c
	}
	jobs, next, err := s.catalog.ListJobs(ctx, p.UserID, opt)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	page := &JobPage{Jobs: jobs}
	if next != nil {
		if page.Next, err = s.sealCursor(ctx, p.UserID, next); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// CancelJob cancels one of the caller's jobs. A queued job ends at once and never
// reaches the model; a running one is asked to stop (its worker stops waiting for the
// model and keeps the images already returned), and the job is returned as it is then.
// EConflict when the job has already ended.
func (s *Service) CancelJob(ctx context.Context, p *Principal, id string) (*easel.Job, error) {
	if _, err := s.GetJob(ctx, p, id); err != nil {
		return nil, err
	}
	now := s.now()
	j, err := s.updateJob(ctx, id, func(j *easel.Job) error {
		switch {
		case j.Status.Terminal():
			return easel.Errorf(easel.EConflict, "The job has already ended (%s).", j.Status)
		case j.Status == easel.JobQueued:
			s.finishJob(j, easel.JobCanceled, nil, now)
		case j.CancelRequested:
			return errSkip
		default:
			j.CancelRequested = true
		}
		return nil
	})
	if errors.Is(err, errSkip) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if j.Status == easel.JobCanceled {
		s.refund(context.WithoutCancel(ctx), j, j.Spec.Images())
		s.kickAfterWork(j, outcome{})
	} else {
		s.cancelLocal(id)
	}
	return j, nil
}

// QueuePosition is a queued job's place in line, from 1 (0 for jobs not queued): 1 +
// the number of everyone's jobs still queued whose QueuedAt is strictly earlier,
// counted up to 1000 (so at most 1001). The fair share between users may start a job
// before jobs ahead of it.
func (s *Service) QueuePosition(ctx context.Context, j *easel.Job) (int, error) {
	if j.Status != easel.JobQueued {
		return 0, nil
	}
	n, err := s.catalog.CountQueued(ctx, "", j.QueuedAt, 1000)
	if err != nil {
		return 0, fmt.Errorf("queue position: %w", err)
	}
	return n + 1, nil
}

// WaitJob waits until the caller's job ends or wait passes, and returns it as it is
// then (check Status.Terminal). It wakes at once for jobs run by this instance and
// polls the catalog every second for others.
func (s *Service) WaitJob(ctx context.Context, p *Principal, id string, wait time.Duration) (*easel.Job, error) {
	ch, stop := s.hub.subscribe(id)
	defer stop()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		j, err := s.GetJob(ctx, p, id)
		if err != nil || j.Status.Terminal() {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-deadline.C:
			return j, nil
		case <-ch:
		case <-poll.C:
		}
	}
}

// WatchJob calls fn with the caller's job each time it has events after seq (the
// job as it is now; fn sends what it has not sent yet), until the job has ended and fn
// has seen its last event, ctx ends, or fn returns an error. tick, when not nil, is
// called every interval without a change (for heartbeats). Streams on any instance
// see jobs run on any other: the catalog is polled every second.
func (s *Service) WatchJob(ctx context.Context, p *Principal, id string, seq int, fn func(j *easel.Job) error, interval time.Duration, tick func() error) error {
	ch, stop := s.hub.subscribe(id)
	defer stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	var beat <-chan time.Time
	if tick != nil && interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		beat = t.C
	}
	for {
		j, err := s.GetJob(ctx, p, id)
		if err != nil {
			return err
		}
		if j.LastSeq() > seq {
			if err := fn(j); err != nil {
				return err
			}
			seq = j.LastSeq()
		}
		if j.Status.Terminal() && j.Events[len(j.Events)-1].Type == easel.TerminalEvent(j.Status) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-poll.C:
		case <-beat:
			if err := tick(); err != nil {
				return err
			}
		}
	}
}
