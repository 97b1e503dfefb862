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
// the sweep window: pending records with their objects, and objects that no record
// points to. Several instances may sweep at once; every step tolerates that.
func (s *Service) Sweep(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	cutoff := s.now().Add(-s.sweepAge)
	for {
		pending, err := s.catalog.ListPending(ctx, cutoff, sweepBatch)
		if err != nil {
			return st, fmt.Errorf("sweep: list pending: %w", err)
		}
		for _, img := range pending {
			// Objects first: if this fails, the record stays and the next sweep retries.
			if err := s.deleteObjects(ctx, img.ID, img.ContentType); err != nil {
				return st, err
			}
			err := s.catalog.DeletePending(ctx, img.ID)
			if err != nil && !easel.IsCode(err, easel.ENotFound) {
				return st, fmt.Errorf("sweep: delete pending %s: %w", img.ID, err)
			}
			if err == nil {
				st.PendingRecords++
			}
		}
		if len(pending) < sweepBatch {
			break
		}
	}
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
		st.OrphanObjects++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return st, err
	}
	return st, ctx.Err()
}

func (s *Service) deleteObjects(ctx context.Context, id, contentType string) error {
	for _, key := range []string{easel.ImageKey(id, contentType), easel.ThumbKey(id, thumbnail.ContentType)} {
		if err := s.blobs.Delete(ctx, key); err != nil {
			return fmt.Errorf("sweep: delete %s: %w", key, err)
		}
	}
	return nil
}

// RunSweeper sweeps every interval until ctx ends, logging what it removed.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := s.Sweep(ctx)
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
