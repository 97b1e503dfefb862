package service

import (
	"context"
	"fmt"
	"time"

	"github.com/easelhq/easel"
)

// Submission is an accepted request for images: its job and, for a request that runs
// at once on this instance, a way to wait for it.
type Submission struct {
	Job *easel.Job
	// Replayed is true when the job comes from an earlier request with the same
	// Idempotency-Key.
	Replayed bool
	// done is closed when a job run here ends; result is then set.
	done   chan struct{}
	result *runResult
}

// runResult is what a run ended with, for the request waiting on it.
type runResult struct {
	job    *easel.Job
	images []*easel.Image
}

// Submit accepts a generation request as a job.
//
// With async, the job is queued for any worker (202 for the caller). Otherwise it runs
// at once on this instance, which must have a free generation slot (EOverloaded) and
// the caller a free concurrency slot (ERateLimited); Wait then waits for it. Either way
// the job runs to its end even if the caller goes away.
//
// Checks happen before anything is written: the request against the model's limits,
// the job options, the Idempotency-Key (a replay returns the earlier job before any
// limit is applied), the caller's rate, the daily quota and, for async, the
// caller's queued jobs (ERateLimited past JobConfig.UserQueue).
func (s *Service) Submit(ctx context.Context, p *Principal, req *easel.GenerateRequest, opt JobOptions, idempotencyKey string, async bool) (*Submission, error) {
	m, err := s.model(req.Model)
	if err != nil {
		return nil, err
	}
	spec := m.Spec()
	if err := spec.Validate(req); err != nil {
		return nil, err
	}
	if len(idempotencyKey) > 255 {
		return nil, easel.ParamErrorf("Idempotency-Key", "The Idempotency-Key header is at most 255 characters.")
	}
	if err := s.checkJobOptions(ctx, &opt); err != nil {
		return nil, err
	}
	if async && s.jobs.Queue == nil {
		return nil, easel.Errorf(easel.EInvalid, "This server runs no job queue; send the request without Prefer: respond-async.")
	}
	reqHash := jobRequestHash(req, &opt)
	if idempotencyKey != "" {
		prev, err := s.claimIdempotencyKey(ctx, p, idempotencyKey, reqHash)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			return &Submission{Job: prev, Replayed: true}, nil
		}
	}
	sub, err := s.submit(ctx, p, m, spec, req, opt, async)
	if idempotencyKey != "" {
		s.settleIdempotencyKey(p, idempotencyKey, reqHash, sub, err)
	}
	return sub, err
}

func (s *Service) submit(ctx context.Context, p *Principal, m easel.Model, spec easel.ModelSpec, req *easel.GenerateRequest, opt JobOptions, async bool) (*Submission, error) {
	if err := s.users.allow(p.UserID); err != nil {
		s.obs.Rejected("rate")
		return nil, err
	}
	// A request that runs here needs its slots before anything is written.
	var release func()
	if !async {
		slot, err := s.AcquireInflight()
		if err != nil {
			return nil, err
		}
		done, err := s.users.begin(p.UserID)
		if err != nil {
			slot()
			s.obs.Rejected("concurrency")
			return nil, err
		}
		release = func() { done(); slot() }
	}
	sub, err := s.create(ctx, p, spec, req, opt, async)
	if err != nil {
		if release != nil {
			release()
		}
		return nil, err
	}
	if !async {
		sub.done = make(chan struct{})
		lease := sub.Job.Lease
		r := s.newRun(sub.Job, lease, nil, release)
		s.syncRuns.Go(func() {
			sub.result = s.execute(r)
			close(sub.done)
		})
	}
	return sub, nil
}

// create counts the quota and writes the job: queued and sent to the queue, or
// running with this instance's lease.
func (s *Service) create(ctx context.Context, p *Principal, spec easel.ModelSpec, req *easel.GenerateRequest, opt JobOptions, async bool) (*Submission, error) {
	r := *req
	spec.Normalize(&r)
	if r.Seed == nil {
		seed := randomSeed(spec.SeedMax)
		r.Seed = &seed
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if err := s.chargeQuota(ctx, p.UserID, now, r.N); err != nil {
		return nil, err
	}
	if async && s.jobs.UserQueue > 0 {
		n, err := s.catalog.CountQueued(ctx, p.UserID, time.Time{}, s.jobs.UserQueue)
		if err == nil && n >= s.jobs.UserQueue {
			s.obs.Rejected("queue")
			err = &easel.Error{
				Code:       easel.ERateLimited,
				Message:    fmt.Sprintf("You have %d jobs queued already; wait for some to start.", n),
				RetryAfter: 5 * time.Second,
			}
		}
		if err != nil {
			s.refundUsage(ctx, p.UserID, now, r.N)
			return nil, err
		}
	}
	j := &easel.Job{
		ID:        easel.NewID(),
		UserID:    p.UserID,
		Kind:      easel.JobGenerate,
		Spec:      easel.JobSpec{Generate: &r, Webhook: opt.Webhook, WebhookEvents: opt.WebhookEvents},
		CreatedAt: now,
		Status:    easel.JobQueued,
		QueuedAt:  now,
	}
	j.Append(easel.EventJobQueued, now)
	if !async {
		j.Status = easel.JobRunning
		j.StartedAt = now
		j.Attempts = 1
		j.Lease = &easel.JobLease{Owner: s.jobs.Instance, Token: newToken(), Until: now.Add(s.jobs.Lease)}
		j.Append(easel.EventJobRunning, now)
	}
	if err := s.catalog.CreateJob(ctx, j); err != nil {
		s.refundUsage(ctx, p.UserID, now, r.N)
		return nil, fmt.Errorf("create job: %w", err)
	}
	if async {
		if err := s.jobs.Queue.Send(ctx, easel.QueueMessage{JobID: j.ID, Group: j.UserID}, 0); err != nil {
			// Without its message the job would wait for the reaper: fail it now, so
			// that the caller can simply try again.
			s.log.Warn("queue job", "job", j.ID, "err", err)
			failed, ferr := s.updateJob(context.WithoutCancel(ctx), j.ID, func(j *easel.Job) error {
				if j.Status != easel.JobQueued {
					return errSkip
				}
				s.finishJob(j, easel.JobFailed, &easel.JobError{Code: easel.EOverloaded, Message: "The job could not be queued."}, s.now())
				return nil
			})
			if ferr == nil && failed.Status == easel.JobFailed {
				s.refundUsage(ctx, p.UserID, now, r.N)
			}
			return nil, easel.WrapError(easel.EOverloaded, err, "The job could not be queued; try again shortly.")
		}
		s.obs.JobQueued()
	}
	return &Submission{Job: j}, nil
}

// Wait waits for a submission's job to end, at most wait, and returns the job as it is
// then and, when it ended, the images it made (fresh from the catalog for jobs that
// ran elsewhere or were replayed).
func (s *Service) Wait(ctx context.Context, p *Principal, sub *Submission, wait time.Duration) (*easel.Job, []*easel.Image, error) {
	if sub.done != nil {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-sub.done:
			if sub.result.job != nil && sub.result.job.Status.Terminal() {
				return sub.result.job, sub.result.images, nil
			}
			// Handed back to the queue (drain, throttling): wait for whoever runs it.
		case <-t.C:
			j, err := s.GetJob(ctx, p, sub.Job.ID)
			return j, nil, err
		case <-ctx.Done():
			return sub.Job, nil, ctx.Err()
		}
	}
	j, err := s.WaitJob(ctx, p, sub.Job.ID, wait)
	if err != nil || !j.Status.Terminal() {
		return j, nil, err
	}
	imgs, err := s.jobImages(ctx, j)
	return j, imgs, err
}

// jobImages reads the images of a job that still exist.
func (s *Service) jobImages(ctx context.Context, j *easel.Job) ([]*easel.Image, error) {
	out := make([]*easel.Image, 0, len(j.ImageIDs))
	for _, id := range j.ImageIDs {
		img, err := s.catalog.GetImage(ctx, j.UserID, id)
		if easel.IsCode(err, easel.ENotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// chargeQuota counts n images against the user's daily quota.
func (s *Service) chargeQuota(ctx context.Context, user string, now time.Time, n int) error {
	if s.limits.DailyQuota <= 0 {
		return nil
	}
	_, err := s.catalog.AddUsage(ctx, user, now.UTC().Format(time.DateOnly), n, s.limits.DailyQuota)
	if easel.IsCode(err, easel.EQuotaExceeded) {
		s.obs.Rejected("quota")
		return &easel.Error{
			Code:       easel.EQuotaExceeded,
			Message:    fmt.Sprintf("Your daily quota of %d images is used up; it resets at midnight UTC.", s.limits.DailyQuota),
			RetryAfter: untilMidnight(now),
		}
	}
	if err != nil {
		return fmt.Errorf("count usage: %w", err)
	}
	return nil
}

// refundUsage gives n images back to the user's quota of the day of at.
func (s *Service) refundUsage(ctx context.Context, user string, at time.Time, n int) {
	if s.limits.DailyQuota <= 0 || n <= 0 {
		return
	}
	if _, err := s.catalog.AddUsage(context.WithoutCancel(ctx), user, at.UTC().Format(time.DateOnly), -n, 0); err != nil {
		s.log.Warn("refund quota", "user", user, "err", err)
	}
}

// refund gives back the images of a job that were charged and not made (n of them).
func (s *Service) refund(ctx context.Context, j *easel.Job, n int) {
	s.refundUsage(ctx, j.UserID, j.CreatedAt, n)
}
