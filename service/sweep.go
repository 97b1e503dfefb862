package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/thumbnail"
)

// SweepStats counts what a sweep removed.
type SweepStats struct {
	PendingRecords int // stale pending records (and their objects)
	OrphanObjects  int // objects no record points to
}

// sweepBatch bounds the pending records handled per round.
const sweepBatch = 100

// Sweep removes what crashed or failed requests left behind, once it is older than
// the sweep window: SweepPending, then SweepOrphans.
func (s *Service) Sweep(ctx context.Context) (SweepStats, error) {
	n, err := s.SweepPending(ctx)
	if err != nil {
		return SweepStats{PendingRecords: n}, err
	}
	m, err := s.SweepOrphans(ctx)
	return SweepStats{PendingRecords: n, OrphanObjects: m}, err
}

// SweepPending removes pending records older than the sweep window, with their objects:
// what a crash or a failed write leaves. It is cheap (an index query), so it runs often.
// Several instances may sweep at once; every step tolerates that.
func (s *Service) SweepPending(ctx context.Context) (int, error) {
	removed := 0
	cutoff := s.now().Add(-s.sweepAge)
	for {
		pending, err := s.catalog.ListPending(ctx, cutoff, sweepBatch)
		if err != nil {
			return removed, fmt.Errorf("sweep: list pending: %w", err)
		}
		for _, img := range pending {
			// Objects first: if this fails, the record stays and the next sweep retries.
			if err := s.deleteObjects(ctx, img.ID, img.ContentType); err != nil {
				return removed, err
			}
			err := s.catalog.DeletePending(ctx, img.ID)
			if err != nil && !easel.IsCode(err, easel.ENotFound) {
				return removed, fmt.Errorf("sweep: delete pending %s: %w", img.ID, err)
			}
			if err == nil {
				removed++
			}
		}
		if len(pending) < sweepBatch {
			return removed, nil
		}
	}
}

// SweepOrphans removes objects older than the sweep window that no record points to.
// Since a record is written before its object, only a failed object delete leaves one,
// so this full listing (a catalog lookup per object) runs rarely.
func (s *Service) SweepOrphans(ctx context.Context) (int, error) {
	removed := 0
	cutoff := s.now().Add(-s.sweepAge)
	errStop := errors.New("stop")
	err := s.blobs.List(ctx, func(b easel.BlobInfo) error {
		if ctx.Err() != nil {
			return errStop
		}
		if b.ModTime.After(cutoff) {
			return nil // possibly a generation in progress
		}
		id, ok := easel.IDFromKey(b.Key)
		if ok {
			_, err := s.catalog.LookupImage(ctx, id)
			if err == nil {
				return nil
			}
			if !easel.IsCode(err, easel.ENotFound) {
				return fmt.Errorf("sweep: look up %s: %w", id, err)
			}
		}
		// Unrecorded, or not a key Easel makes: Easel owns its prefix, so remove it.
		if err := s.blobs.Delete(ctx, b.Key); err != nil {
			return fmt.Errorf("sweep: delete %s: %w", b.Key, err)
		}
		removed++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return removed, err
	}
	return removed, ctx.Err()
}

func (s *Service) deleteObjects(ctx context.Context, id, contentType string) error {
	for _, key := range []string{easel.ImageKey(id, contentType), easel.ThumbKey(id, thumbnail.ContentType)} {
		if err := s.blobs.Delete(ctx, key); err != nil {
			return fmt.Errorf("sweep: delete %s: %w", key, err)
		}
	}
	return nil
}

// RunSweeper sweeps pending records every interval and orphan objects every
// orphansEvery, until ctx ends, logging what it removed.
func (s *Service) RunSweeper(ctx context.Context, every, orphansEvery time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastOrphans time.Time
	for {
		var st SweepStats
		var err error
		st.PendingRecords, err = s.SweepPending(ctx)
		if err == nil && time.Since(lastOrphans) >= orphansEvery {
			lastOrphans = time.Now()
			st.OrphanObjects, err = s.SweepOrphans(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("sweep failed", "err", err)
		case st.PendingRecords+st.OrphanObjects > 0:
			s.log.Info("swept", "pending_records", st.PendingRecords, "orphan_objects", st.OrphanObjects)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
