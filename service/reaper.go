package service

import (
	"context"
	"fmt"
	"time"

	"github.com/easelhq/easel"
)

// reapBatch bounds the jobs handled per kind and round.
const reapBatch = 100

// queuelessGrace is how long past its lease an instance without a queue leaves a
// running job whose worker is gone before it fails it.
const queuelessGrace = 10 * time.Minute

// runReaper looks, every ReapEvery until ctx ends, for work that a crash or a lost
// message left behind: running jobs whose worker's lease ended (handed back to the
// queue), jobs queued so long that their message may be lost (sent again), dead
// letters (their jobs failed), and jobs whose after-work is due (thumbnails,
// notifications). Every instance runs it; every step is a conditional write, so they
// do not get in each other's way.
func (s *Service) runReaper(ctx context.Context) {
	t := time.NewTicker(s.jobs.ReapEvery)
	defer t.Stop()
	for {
		if err := s.Reap(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reap jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reap does one round of the reaper's work (see runReaper).
func (s *Service) Reap(ctx context.Context) error {
	now := s.now()
	cutoff := now
	if s.jobs.Queue == nil {
		// Without a queue a stale job cannot run again here; an instance with a queue
		// (sharing the catalog) hands it back within its own round. Only a job no one
		// has handed back for a while is ended.
		cutoff = now.Add(-queuelessGrace)
	}
	stale, err := s.catalog.DueJobs(ctx, easel.DueLease, cutoff, reapBatch)
	if err != nil {
		return fmt.Errorf("stale leases: %w", err)
	}
	for _, j := range stale {
		s.handBackStale(ctx, j.ID, false)
	}
	if s.jobs.Queue != nil {
		lost, err := s.catalog.DueJobs(ctx, easel.DueQueued, now.Add(-lostMessageAfter), reapBatch)
		if err != nil {
			return fmt.Errorf("long-queued jobs: %w", err)
		}
		for _, j := range lost {
			s.resend(ctx, j.ID)
		}
		dead, err := s.jobs.Queue.ReceiveDead(ctx, 10, s.jobs.Lease)
		if err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
		for _, d := range dead {
			s.failDead(ctx, d)
		}
	}
	due, err := s.catalog.DueJobs(ctx, easel.DueNotify, now, reapBatch)
	if err != nil {
		return fmt.Errorf("due after-work: %w", err)
	}
	for _, j := range due {
		s.queueAfterWork(afterItem{jobID: j.ID})
	}
	return nil
}

// recoverRunning hands back every running job at start, when this process is the only
// one that runs jobs from the catalog (JobConfig.RecoverOnStart): whoever held them
// is gone.
func (s *Service) recoverRunning(ctx context.Context) {
	far := s.now().Add(100 * 365 * 24 * time.Hour)
	for {
		jobs, err := s.catalog.DueJobs(ctx, easel.DueLease, far, reapBatch)
		if err != nil {
			s.log.Warn("recover running jobs", "err", err)
			return
		}
		n := 0
		for _, j := range jobs {
			if s.handBackStale(ctx, j.ID, true) {
				n++
			}
		}
		if n > 0 {
			s.log.Info("handed back the jobs of a previous run", "jobs", n)
		}
		if len(jobs) < reapBatch || n == 0 {
			return
		}
	}
}

// handBackStale puts a running job whose lease has ended (or any running job, with
// force) back on the queue. It reports whether it did.
func (s *Service) handBackStale(ctx context.Context, id string, force bool) bool {
	now := s.now()
	j, err := s.updateJob(ctx, id, func(j *easel.Job) error {
		if j.Status != easel.JobRunning || (!force && j.Lease != nil && j.Lease.Until.After(now)) {
			return errSkip
		}
		requeue(j, now, now)
		s.markAfterWork(j, now)
		return nil
	})
	if err != nil {
		if err != errSkip {
			s.log.Warn("hand back a stale job", "job", id, "err", err)
		}
		return false
	}
	if s.jobs.Queue == nil {
		s.failQueueless(ctx, j)
		return true
	}
	if err := s.send(ctx, j, 0); err != nil {
		s.log.Warn("queue a stale job; the reaper sends it again later", "job", id, "err", err)
	}
	s.obs.JobHandedBack()
	return true
}

// failQueueless ends a job that would have to wait in a queue when there is none.
func (s *Service) failQueueless(ctx context.Context, j *easel.Job) {
	now := s.now()
	j, err := s.updateJob(ctx, j.ID, func(j *easel.Job) error {
		if j.Status != easel.JobQueued {
			return errSkip
		}
		s.finishJob(j, easel.JobFailed, &easel.JobError{Code: easel.EInternal, Message: "The job was interrupted and this server has no queue to run it again."}, now)
		return nil
	})
	if err == nil {
		s.refund(ctx, j, j.Spec.Images()-len(j.ImageIDs))
	}
}

// resend sends the message of a long-queued job again, in case it was lost, and notes
// when (a duplicate is dropped by the claim).
func (s *Service) resend(ctx context.Context, id string) {
	now := s.now()
	j, err := s.updateJob(ctx, id, func(j *easel.Job) error {
		if j.Status != easel.JobQueued || now.Sub(j.QueuedAt) < lostMessageAfter {
			return errSkip
		}
		j.QueuedAt = now.UTC().Truncate(time.Millisecond)
		return nil
	})
	if err != nil {
		return
	}
	if err := s.send(ctx, j, max(j.NotBefore.Sub(now), 0)); err != nil {
		s.log.Warn("send a long-queued job again", "job", id, "err", err)
	}
}

// failDead fails the job of a dead-lettered message (received too many times without
// finishing) and deletes the message.
func (s *Service) failDead(ctx context.Context, d *easel.Delivery) {
	now := s.now()
	j, err := s.updateJob(ctx, d.JobID, func(j *easel.Job) error {
		if j.Status.Terminal() {
			return errSkip
		}
		s.finishJob(j, easel.JobFailed, &easel.JobError{
			Code:    easel.EInternal,
			Message: fmt.Sprintf("The job's queue message was delivered %d times without the job finishing; giving up.", d.ReceiveCount),
		}, now)
		return nil
	})
	switch {
	case err == nil:
		s.log.Warn("failed a dead-lettered job", "job", d.JobID, "receives", d.ReceiveCount)
		s.refund(ctx, j, j.Spec.Images()-len(j.ImageIDs))
		s.kickAfterWork(j, outcome{})
		s.obs.JobFinished(string(easel.JobFailed))
	case err == errSkip, easel.IsCode(err, easel.ENotFound):
	default:
		s.log.Warn("fail a dead-lettered job", "job", d.JobID, "err", err)
		return // the dead letter comes back later
	}
	if err := s.jobs.Queue.Delete(ctx, d); err != nil {
		s.log.Warn("delete a dead letter", "job", d.JobID, "err", err)
	}
}
