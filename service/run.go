package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/easelhq/easel"
)

// Why a run's context ended early.
var (
	errCanceled  = errors.New("job canceled by its owner")
	errDrain     = errors.New("instance draining")
	errLeaseLost = errors.New("job lease lost to another worker")
	errNotYet    = errors.New("job not due yet")
)

// run is one execution of a job by this instance, holding its lease.
type run struct {
	job      *easel.Job // as claimed
	token    string     // the lease token
	delivery *easel.Delivery
	release  func() // frees the instance and user slots
	ctx      context.Context
	cancel   context.CancelCauseFunc
	// edit holds an edit job's inputs in memory when the request that made the job
	// runs it (nil: read from storage); editSlot is that request's edit slot.
	edit     *easel.EditRequest
	editSlot func()
}

func (s *Service) newRun(j *easel.Job, lease *easel.JobLease, d *easel.Delivery, release func()) *run {
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &run{job: j, token: lease.Token, delivery: d, release: release, ctx: ctx, cancel: cancel}
	s.runsMu.Lock()
	s.runs[j.ID] = r
	s.runsMu.Unlock()
	return r
}

// cancelLocal stops a job running on this instance at once (a cancel on another
// instance is seen by the worker's next heartbeat).
func (s *Service) cancelLocal(id string) {
	s.runsMu.Lock()
	r := s.runs[id]
	s.runsMu.Unlock()
	if r != nil {
		r.cancel(errCanceled)
	}
}

// outcome is what generating a job's images gave.
type outcome struct {
	images []*easel.Image
	// thumbs holds copies of the stored images' bytes for their thumbnails, when the
	// memory budget allows; nil otherwise.
	thumbs   *thumbData
	filtered int
	failed   int
	err      error
	// retryAt, when set, hands the job back to the queue until then (the model's
	// per-minute budget is spent, or it throttled).
	retryAt time.Time
	took    time.Duration
}

// execute runs a claimed job to its end (or hands it back), keeping its lease alive,
// and returns the job as it ended.
func (s *Service) execute(r *run) *runResult {
	defer func() {
		s.runsMu.Lock()
		delete(s.runs, r.job.ID)
		s.runsMu.Unlock()
		r.cancel(nil)
		r.release()
		if r.editSlot != nil {
			r.editSlot()
		}
		s.wakeDispatcher()
	}()
	stop := make(chan struct{})
	beat := make(chan struct{})
	go func() { defer close(beat); s.heartbeat(r, stop) }()
	var out outcome
	if r.job.Kind == easel.JobEdit {
		out = s.editJob(r)
	} else {
		out = s.generateJob(r)
	}
	close(stop)
	<-beat
	defer out.thumbs.drop(s) // unless the after-work took it
	return s.conclude(r, out)
}

// heartbeat renews the run's lease (and its queue message's visibility) every sixth of
// the lease, and stops the run when its owner canceled the job or the lease was lost.
func (s *Service) heartbeat(r *run, stop <-chan struct{}) {
	t := time.NewTicker(s.jobs.Lease / 6)
	defer t.Stop()
	ctx := context.Background()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		until := s.now().Add(s.jobs.Lease)
		j, err := s.updateKnownJob(ctx, r.job.ID, r.job, func(j *easel.Job) error {
			if j.Lease == nil || j.Lease.Token != r.token {
				return errLeaseLost
			}
			j.Lease.Until = until
			return nil
		})
		if err == nil {
			r.job = j // the run's copy stays current (conclude runs after the heartbeat stops)
		}
		switch {
		case errors.Is(err, errLeaseLost):
			r.cancel(errLeaseLost)
			return
		case err != nil:
			// The lease has time left; the next beat tries again.
			s.log.Warn("renew job lease", "job", r.job.ID, "err", err)
			continue
		}
		if j.CancelRequested {
			r.cancel(errCanceled)
		}
		if r.delivery != nil {
			if err := s.jobs.Queue.Extend(ctx, r.delivery, s.jobs.Lease); err != nil {
				s.log.Warn("extend queue message", "job", r.job.ID, "err", err)
			}
		}
	}
}

// generateJob calls the model for the images the job still lacks and stores them.
func (s *Service) generateJob(r *run) outcome {
	j := r.job
	req := *j.Spec.Generate
	done := len(j.ImageIDs) + j.Filtered + j.Failed
	if done >= req.N {
		return outcome{}
	}
	m, err := s.model(req.Model)
	if err != nil {
		return outcome{err: easel.WrapError(easel.EModelUnavailable, err, "Model %s is no longer configured.", req.Model)}
	}
	spec := m.Spec()
	if done > 0 && req.Seed != nil {
		// The images made before a hand-back used the first seeds.
		seed := *req.Seed + uint64(done)
		if spec.SeedMax != ^uint64(0) {
			seed %= spec.SeedMax + 1
		}
		req.Seed = &seed
	}
	req.N -= done
	if wait, err := s.modelBudget(r.ctx, spec, req.N); err != nil || wait > 0 {
		if err != nil {
			return outcome{err: err}
		}
		return outcome{retryAt: s.now().Add(wait)}
	}
	// Memory: room for the images, held until they are stored (memory.go).
	releaseMem, err := s.images.acquire(r.ctx, req.N)
	if err != nil {
		return outcome{err: err}
	}
	defer releaseMem()
	start := s.now()
	gctx, cancel := context.WithTimeout(r.ctx, s.limits.GenerateTimeout)
	gen, err := m.Generate(gctx, &req)
	cancel()
	out := outcome{took: s.now().Sub(start)}
	if gen != nil {
		// Buffer ownership: the images' bytes go back to the model once stored; the
		// after-work copies what it keeps for thumbnails (kickAfterWork).
		defer gen.Release()
	}
	if errors.Is(err, context.DeadlineExceeded) && r.ctx.Err() == nil {
		err = easel.WrapError(easel.EModelTimeout, err, "The model did not answer within %s.", s.limits.GenerateTimeout)
	}
	if gen != nil {
		out.filtered, out.failed = gen.Filtered, gen.Failed
		if len(gen.Images) > 0 {
			// Paid for: stored whatever happens to the run from here on.
			var (
				failed int
				data   [][]byte
			)
			out.images, data, failed, err = s.storeGeneration(context.WithoutCancel(r.ctx), j.UserID, &req, gen, err)
			out.failed += failed
			out.thumbs = s.keepForThumbs(out.images, data) // before the buffers go back
		}
	}
	if err == nil && len(out.images) == 0 && out.filtered == 0 {
		err = easel.Errorf(easel.EModelError, "The model returned no image.")
	}
	if err != nil && len(out.images) == 0 && easel.IsCode(err, easel.ERateLimited) && r.ctx.Err() == nil {
		// The model throttled past its own retries: wait in the queue, not as an error.
		out.retryAt = s.now().Add(s.throttleBackoff(j))
		err = nil
	}
	out.err = err
	return out
}

// conclude records how a run ended: finished, handed back to the queue, or (when the
// lease was lost) nothing.
func (s *Service) conclude(r *run, out outcome) *runResult {
	ctx := context.Background()
	now := s.now()
	cause := context.Cause(r.ctx)
	switch {
	case errors.Is(cause, errLeaseLost):
		s.log.Warn("job lease lost; another worker runs it", "job", r.job.ID, "stored", len(out.images))
		s.deleteDelivery(r.delivery)
		return &runResult{}
	case (errors.Is(cause, errDrain) && out.err != nil) || !out.retryAt.IsZero():
		// Interrupted by the drain (the model's answer, if any, is stored), or the
		// model is over its budget: another worker takes it from here, unless there
		// is no queue to wait in or it has waited long enough.
		if err := s.cannotWait(r, &out, now); err != nil {
			out.err, out.retryAt = err, time.Time{}
			break
		}
		notBefore := out.retryAt
		if notBefore.IsZero() {
			notBefore = now
		}
		j, err := s.handBack(ctx, r, out, notBefore)
		if err != nil {
			s.log.Warn("hand job back", "job", r.job.ID, "err", err)
		}
		return &runResult{job: j}
	}

	status, jerr := easel.JobSucceeded, (*easel.JobError)(nil)
	switch {
	case errors.Is(cause, errCanceled):
		status = easel.JobCanceled
	case len(out.images) == 0 && len(r.job.ImageIDs) == 0:
		status, jerr = easel.JobFailed, jobError(out.err)
		if out.err == nil { // everything was filtered
			jerr = jobError(easel.Errorf(easel.EContentPolicy, "The model's content filter removed every image."))
		}
	}
	j, err := s.updateKnownJob(ctx, r.job.ID, r.job, func(j *easel.Job) error {
		if j.Lease == nil || j.Lease.Token != r.token {
			return errLeaseLost
		}
		addImages(j, out, now)
		s.finishJob(j, status, jerr, now)
		return nil
	})
	if err != nil {
		s.log.Warn("finish job", "job", r.job.ID, "err", err)
		s.deleteDelivery(r.delivery)
		return &runResult{}
	}
	s.deleteDelivery(r.delivery)
	s.refund(ctx, j, j.Spec.Images()-len(j.ImageIDs))
	s.observeRun(j, out)
	s.kickAfterWork(j, out)
	return &runResult{job: j, images: s.imagesOf(j, out)}
}

// cannotWait returns why a job that would go back to the queue ends instead: there is
// no queue, or the model has throttled it for throttleGiveUp.
func (s *Service) cannotWait(r *run, out *outcome, now time.Time) error {
	throttled := !out.retryAt.IsZero()
	switch {
	case s.jobs.Queue == nil && throttled:
		return easel.Errorf(easel.ERateLimited, "The model is over its request quota; try again later.")
	case s.jobs.Queue == nil:
		return easel.Errorf(easel.EOverloaded, "The job was interrupted by a restart; try again.")
	case throttled && now.Sub(r.job.CreatedAt) > throttleGiveUp:
		return easel.Errorf(easel.ERateLimited, "The model stayed over its request quota for %s; try again later.", throttleGiveUp)
	}
	return nil
}

// addImages records a run's stored images on the job, with an image.ready event each.
func addImages(j *easel.Job, out outcome, now time.Time) {
	for _, img := range out.images {
		j.ImageIDs = append(j.ImageIDs, img.ID)
		j.Append(easel.EventImageReady, now).ImageID = img.ID
	}
	j.Filtered += out.filtered
	j.Failed += out.failed
}

// imagesOf returns the job's images, those of this run from memory.
func (s *Service) imagesOf(j *easel.Job, out outcome) []*easel.Image {
	if len(out.images) == len(j.ImageIDs) {
		return out.images
	}
	imgs, err := s.jobImages(context.Background(), j)
	if err != nil {
		s.log.Warn("read job images", "job", j.ID, "err", err)
		return out.images
	}
	return imgs
}

// handBack puts a running job back on the queue, keeping the images this run stored,
// to run again not before notBefore (by any worker).
func (s *Service) handBack(ctx context.Context, r *run, out outcome, notBefore time.Time) (*easel.Job, error) {
	now := s.now()
	j, err := s.updateKnownJob(ctx, r.job.ID, r.job, func(j *easel.Job) error {
		if j.Lease == nil || j.Lease.Token != r.token {
			return errLeaseLost
		}
		addImages(j, out, now)
		requeue(j, notBefore, now)
		// A hand-back is not a failed attempt: only starts that never end (a worker
		// that died, a job that crashes it) count towards MaxAttempts.
		j.Attempts = max(j.Attempts-1, 0)
		s.markAfterWork(j, now)
		return nil
	})
	if err != nil {
		s.deleteDelivery(r.delivery)
		return nil, err
	}
	s.kickAfterWork(j, outcome{})
	err = s.send(ctx, j, notBefore.Sub(now))
	if err == nil {
		s.deleteDelivery(r.delivery)
	} else if r.delivery != nil {
		// Keep the old message: it comes back after its visibility timeout.
		_ = s.jobs.Queue.Extend(ctx, r.delivery, max(notBefore.Sub(now), time.Second))
	}
	return j, err
}

// requeue moves a job back to queued in place.
func requeue(j *easel.Job, notBefore, now time.Time) {
	j.Status = easel.JobQueued
	j.Lease = nil
	j.NotBefore = notBefore.UTC().Truncate(time.Millisecond)
	if !notBefore.After(now) {
		j.NotBefore = time.Time{}
	}
	j.QueuedAt = now.UTC().Truncate(time.Millisecond)
	j.Append(easel.EventJobQueued, now)
}

// send puts a message for the job on the queue.
func (s *Service) send(ctx context.Context, j *easel.Job, delay time.Duration) error {
	if s.jobs.Queue == nil {
		return fmt.Errorf("no queue to hand job %s back to", j.ID)
	}
	return s.jobs.Queue.Send(ctx, easel.QueueMessage{JobID: j.ID, Group: j.UserID}, max(delay, 0))
}

func (s *Service) deleteDelivery(d *easel.Delivery) {
	if d == nil {
		return
	}
	if err := s.jobs.Queue.Delete(context.Background(), d); err != nil {
		s.log.Warn("delete queue message", "job", d.JobID, "err", err)
	}
}

// throttleBackoff is how long a throttled job waits: growing with its hand-backs,
// with jitter, at most a minute.
func (s *Service) throttleBackoff(j *easel.Job) time.Duration {
	n := 0
	for _, ev := range j.Events {
		if ev.Type == easel.EventJobQueued {
			n++
		}
	}
	return jitter(min(time.Second<<min(n, 6), time.Minute))
}

func (s *Service) observeRun(j *easel.Job, out outcome) {
	if j.Status == easel.JobFailed && j.Error != nil {
		s.obs.GenerateFailed(j.Spec.ModelID(), j.Error.Code, out.took)
	}
	if len(out.images) > 0 {
		var total int64
		for _, img := range out.images {
			total += img.Bytes
		}
		s.obs.Generated(j.Spec.ModelID(), out.took, len(out.images), total)
	}
	s.obs.JobFinished(string(j.Status))
}

// claim takes a job for this instance from a queue delivery: a queued job whose time
// has come, or a running one whose worker's lease has ended. It returns the job and
// its lease when this instance now holds it; nil and errSkip when the job needs
// nothing (ended, or held by a live worker: a duplicate delivery); errNotYet when it
// must wait (NotBefore).
func (s *Service) claim(ctx context.Context, id string) (*easel.Job, *easel.JobLease, error) {
	now := s.now()
	lease := &easel.JobLease{Owner: s.jobs.Instance, Token: newToken(), Until: now.Add(s.jobs.Lease)}
	gaveUp := false
	j, err := s.updateJob(ctx, id, func(j *easel.Job) error {
		gaveUp = false
		switch {
		case j.Status.Terminal():
			return errSkip
		case j.Status == easel.JobRunning && j.Lease != nil && j.Lease.Until.After(now):
			return errSkip
		case j.Status == easel.JobQueued && j.NotBefore.After(now):
			return errNotYet
		}
		if j.Attempts >= s.jobs.MaxAttempts {
			gaveUp = true
			s.finishJob(j, easel.JobFailed, &easel.JobError{
				Code:    easel.EInternal,
				Message: fmt.Sprintf("The job was started %d times without finishing; giving up.", j.Attempts),
			}, now)
			return nil
		}
		j.Attempts++
		if j.Status == easel.JobQueued {
			j.Append(easel.EventJobRunning, now)
			s.markAfterWork(j, now)
		}
		j.Status = easel.JobRunning
		j.Lease = lease
		j.NotBefore = time.Time{}
		if j.StartedAt.IsZero() {
			j.StartedAt = now.UTC().Truncate(time.Millisecond)
		}
		return nil
	})
	if err != nil {
		return j, nil, err
	}
	if gaveUp {
		s.refund(ctx, j, j.Spec.Images()-len(j.ImageIDs))
		s.kickAfterWork(j, outcome{})
		return j, nil, errSkip
	}
	s.kickAfterWork(j, outcome{})
	return j, lease, nil
}
