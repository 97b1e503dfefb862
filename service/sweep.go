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
//
// It deletes only what this Easel wrote: keys that easel.IDFromKey accepts, in a store
// whose ownership mark names this catalog. Anything else in the store (another
// program's files, the SQLite catalog, a prefix shared by mistake) is never touched.
// An unmarked store is marked only when it holds no image this catalog has no record
// of, so a new catalog pointed at an old image folder never claims it. When the store
// is not this catalog's, SweepOrphans removes nothing and returns a *SweepRefusedError.
func (s *Service) SweepOrphans(ctx context.Context) (int, error) {
	if err := s.ownStore(ctx); err != nil {
		var refused *SweepRefusedError
		if errors.As(err, &refused) {
			s.obs.SweepRefused(refused.Reason)
		}
		return 0, err
	}
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
		if !ok {
			return nil // not a key Easel makes: not Easel's to delete
		}
		_, err := s.catalog.LookupImage(ctx, id)
		if err == nil {
			return nil
		}
		if !easel.IsCode(err, easel.ENotFound) {
			return fmt.Errorf("sweep: look up %s: %w", id, err)
		}
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

// SweepRefusedError says why the orphan sweep deleted nothing: the blob store is not
// known to be this catalog's.
type SweepRefusedError struct {
	// Reason is "foreign_mark" (the store's mark names another catalog) or
	// "unmarked" (no mark, and images this catalog has no record of).
	Reason string
	// Detail is a sentence for the operator.
	Detail string
}

func (e *SweepRefusedError) Error() string { return "orphan sweep refused: " + e.Detail }

// catalogIDSetting names the catalog's own random id, which the blob store's ownership
// mark holds.
const catalogIDSetting = "catalog_id"

// CatalogID returns the catalog's id, made on first use and shared by every instance.
func (s *Service) CatalogID(ctx context.Context) (string, error) {
	v, err := s.catalog.Setting(ctx, catalogIDSetting, []byte(easel.NewID()))
	if err != nil {
		return "", fmt.Errorf("catalog id: %w", err)
	}
	return string(v), nil
}

// CheckBlobStore runs at start-up, before any request. It refuses a blob store whose
// ownership mark names another catalog: its images are another Easel's, and writing
// beside them would mix two catalogs' images in one store (whose sweeps would then
// delete each other's). An unmarked store is marked now when that is safe (see
// SweepOrphans); when it is not, the refusal is logged and counted, and the store is
// still used: only its orphan sweep stays off.
func (s *Service) CheckBlobStore(ctx context.Context) error {
	err := s.ownStore(ctx)
	var refused *SweepRefusedError
	switch {
	case errors.As(err, &refused) && refused.Reason == "foreign_mark":
		return fmt.Errorf("the blob store belongs to another Easel catalog: %s; "+
			"use that catalog with this store, or another store with this catalog", refused.Detail)
	case errors.As(err, &refused):
		s.obs.SweepRefused(refused.Reason)
		s.log.Error("orphan sweep off: the blob store is not known to be this catalog's",
			"reason", refused.Reason, "detail", refused.Detail)
		return nil
	}
	return err
}

// ownStore makes sure the blob store is this catalog's: its mark names this catalog,
// or it has no mark and every image in it is recorded here, in which case it is marked
// now. Otherwise it returns a *SweepRefusedError.
func (s *Service) ownStore(ctx context.Context) error {
	id, err := s.CatalogID(ctx)
	if err != nil {
		return err
	}
	owner, err := s.blobs.Owner(ctx)
	switch {
	case err == nil && owner == id:
		return nil
	case err == nil:
		return &SweepRefusedError{Reason: "foreign_mark", Detail: fmt.Sprintf(
			"the blob store's ownership mark names catalog %s, not this catalog (%s)", owner, id)}
	case !easel.IsCode(err, easel.ENotFound):
		return fmt.Errorf("sweep: read the blob store's ownership mark: %w", err)
	}
	unknown, example := 0, ""
	err = s.blobs.List(ctx, func(b easel.BlobInfo) error {
		oid, ok := easel.IDFromKey(b.Key)
		if !ok {
			return nil
		}
		_, err := s.catalog.LookupImage(ctx, oid)
		switch {
		case easel.IsCode(err, easel.ENotFound):
			if unknown++; example == "" {
				example = b.Key
			}
		case err != nil:
			return fmt.Errorf("sweep: look up %s: %w", oid, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if unknown > 0 {
		return &SweepRefusedError{Reason: "unmarked", Detail: fmt.Sprintf(
			"the blob store has no ownership mark and holds %d images this catalog has no record of (such as %s): "+
				"it may be another catalog's, so nothing in it will be deleted; if those files are yours to lose, "+
				"delete them and the store will be marked as this catalog's", unknown, example)}
	}
	got, err := s.blobs.ClaimOwner(ctx, id)
	if err != nil {
		return fmt.Errorf("sweep: mark the blob store: %w", err)
	}
	if got != id {
		return &SweepRefusedError{Reason: "foreign_mark", Detail: fmt.Sprintf(
			"the blob store was marked by catalog %s, not this catalog (%s)", got, id)}
	}
	s.log.Info("marked the blob store as this catalog's", "catalog", id)
	return nil
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
		var refused *SweepRefusedError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &refused):
			s.log.Error("orphan sweep refused: the blob store is not known to be this catalog's; nothing in it is deleted",
				"reason", refused.Reason, "detail", refused.Detail)
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
