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
	// Legacy, instead of Job, is the answer an earlier request with the same key
	// stored before jobs existed.
	Legacy *GenerateResult
	// done is closed when a job run here ends; result is then set.
	done   chan struct{}
	result *runResult
}

// runResult is what a run ended with, for the request waiting on it.
type runResult struct {
	job    *easel.Job
	images []*easel.Image
}

// Submit admits a request (Admit, or AdmitJob for async) and submits it
// (SubmitAdmitted).
func (s *Service) Submit(ctx context.Context, p *Principal, req *easel.GenerateRequest, opt JobOptions, idempotencyKey string, async bool) (*Submission, error) {
	admit := s.Admit
	if async {
		admit = s.AdmitJob
	}
	a, err := admit(ctx, p, idempotencyKey)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return s.SubmitAdmitted(ctx, a, req, opt, async)
}

// SubmitAdmitted accepts an admitted generation request as a job.
//
// With async, the job is queued for any worker (202 for the caller). Otherwise it runs
// at once on this instance, which must have a free generation slot (EOverloaded); the
// admission's concurrency place goes with the run, and Wait waits for it. Either way
// the job runs to its end even if the caller goes away.
//
// Checks happen before anything is written: the request against the model's limits
// and the job options (bad input gives the rate token back), the Idempotency-Key (a
// replay returns the earlier job), the daily quota and, for async, the caller's
// queued jobs (ERateLimited past JobConfig.UserQueue).
func (s *Service) SubmitAdmitted(ctx context.Context, a *Admission, req *easel.GenerateRequest, opt JobOptions, async bool) (*Submission, error) {
	m, err := s.model(req.Model)
	if err != nil {
		a.Refund()
		return nil, err
	}
	spec := m.Spec()
	if spec.EditOnly {
		a.Refund()
		return nil, easel.ParamErrorf("model", "Model %s edits images only; send edits to POST /v1/edits.", spec.ID)
	}
	if err := spec.Validate(req); err != nil {
		a.Refund()
		return nil, err
	}
	if err := s.checkJobOptions(ctx, &opt); err != nil {
		a.Refund()
		return nil, err
	}
	if async && s.jobs.Queue == nil {
		a.Refund()
		return nil, easel.ParamErrorf("Prefer", "This server runs no job queue; send the request without Prefer: respond-async.")
	}
	return s.submitKeyed(ctx, a, jobRequestHash(req, &opt), func() (*Submission, error) {
		return s.submit(ctx, a, spec, req, opt, async)
	})
}

// submitKeyed claims the admission's Idempotency-Key for a checked request whose hash
// is reqHash (a replay returns the earlier job) and runs submit, recording its job
// under the key.
func (s *Service) submitKeyed(ctx context.Context, a *Admission, reqHash string, submit func() (*Submission, error)) (*Submission, error) {
	var claim *easel.IdempotencyRecord
	if a.key != "" {
		kc, err := s.claimKey(ctx, a.p, a.key, reqHash)
		switch {
		case err != nil:
			a.Refund()
			return nil, err
		case kc.job != nil:
			a.Refund()
			return &Submission{Job: kc.job, Replayed: true}, nil
		case kc.legacy != nil:
			a.Refund()
			return &Submission{Legacy: kc.legacy, Replayed: true}, nil
		}
		claim = kc.claim
	}
	if a.replay {
		// Admitted for a stored answer that is gone, or not kept: a new request.
		a.replay = false
		if err := s.limit(a); err != nil {
			if claim != nil {
				s.settleKey(claim, nil)
			}
			return nil, err
		}
	}
	sub, err := submit()
	if claim != nil {
		var j *easel.Job
		if sub != nil {
			j = sub.Job
		}
		s.settleKey(claim, j)
	}
	return sub, err
}

func (s *Service) submit(ctx context.Context, a *Admission, spec easel.ModelSpec, req *easel.GenerateRequest, opt JobOptions, async bool) (*Submission, error) {
	r := *req
	spec.Normalize(&r)
	if r.Seed == nil {
		seed := randomSeed(spec.SeedMax)
		r.Seed = &seed
	}
	return s.submitJob(ctx, a, newJob{kind: easel.JobGenerate, spec: easel.JobSpec{Generate: &r}, n: r.N}, opt, async)
}

// newJob is what a request asks a job to do.
type newJob struct {
	kind easel.JobKind
	spec easel.JobSpec
	n    int // images charged to the quota
	// store, when set, writes what the job needs (an edit's uploaded inputs) once the
	// quota and queue checks have passed, just before the job is created; it may
	// change spec.
	store func(ctx context.Context, spec *easel.JobSpec) error
	// edit holds an edit's inputs in memory, for a run on this instance.
	edit *easel.EditRequest
	// editSlot is the caller's edit slot, which a run here takes over.
	editSlot *EditSlot
}

// submitJob creates the job of an admitted, checked request and, unless async, runs
// it here.
func (s *Service) submitJob(ctx context.Context, a *Admission, nj newJob, opt JobOptions, async bool) (*Submission, error) {
	// A request that runs here needs an instance slot before anything is written; the
	// user's concurrency place (taken at admission) goes with the run.
	var release func()
	if !async {
		slot, err := s.AcquireInflight()
		if err != nil {
			return nil, err
		}
		done := a.done
		a.done = nil
		release = func() {
			if done != nil {
				done()
			}
			slot()
		}
	}
	nj.spec.Webhook, nj.spec.WebhookEvents = opt.Webhook, opt.WebhookEvents
	sub, err := s.create(ctx, a.p, &nj, async)
	if err != nil {
		if release != nil {
			release()
		}
		return nil, err
	}
	if !async {
		sub.done = make(chan struct{})
		r := s.newRun(sub.Job, sub.Job.Lease, nil, release)
		r.edit = nj.edit
		if nj.editSlot != nil {
			r.editSlot = nj.editSlot.hand()
		}
		go func() {
			sub.result = s.execute(r)
			close(sub.done)
		}()
	}
	return sub, nil
}

// create counts the quota and writes the job: queued and sent to the queue, or
// running with this instance's lease.
func (s *Service) create(ctx context.Context, p *Principal, nj *newJob, async bool) (*Submission, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	if err := s.chargeQuota(ctx, p.UserID, now, nj.n); err != nil {
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
			s.refundUsage(ctx, p.UserID, now, nj.n)
			return nil, err
		}
	}
	if nj.store != nil {
		if err := nj.store(ctx, &nj.spec); err != nil {
			s.refundUsage(ctx, p.UserID, now, nj.n)
			return nil, err
		}
	}
	j := &easel.Job{
		ID:        easel.NewID(),
		UserID:    p.UserID,
		Kind:      nj.kind,
		Spec:      nj.spec,
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
		s.refundUsage(ctx, p.UserID, now, nj.n)
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
				s.refundUsage(ctx, p.UserID, now, nj.n)
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
