package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/easelhq/easel"
)

// beginIdempotent claims the key for this request. replay is true when an earlier
// request with the key made a job: its id is returned.
func (s *Service) beginIdempotent(ctx context.Context, p *Principal, key, reqHash string) (string, bool, error) {
	now := s.now().UTC()
	rec := &easel.IdempotencyRecord{
		UserID:      p.UserID,
		Key:         key,
		RequestHash: reqHash,
		State:       easel.IdempotencyRunning,
		CreatedAt:   now,
		ExpiresAt:   now.Add(s.limits.IdempotencyTTL),
	}
	prev, err := s.catalog.BeginIdempotent(ctx, rec)
	if err == nil {
		return "", false, nil
	}
	if easel.IsCode(err, easel.EConflict) && prev != nil && prev.State == easel.IdempotencyRunning &&
		prev.RequestHash == reqHash && now.Sub(prev.CreatedAt) > idempotencyLease {
		// The instance that claimed the key died before it made the job: take the key
		// over. If two retries race here, the catalog's conditional write lets one win
		// and the other sees a conflict.
		if aerr := s.catalog.AbortIdempotent(ctx, p.UserID, key); aerr != nil {
			return "", true, aerr
		}
		if prev, err = s.catalog.BeginIdempotent(ctx, rec); err == nil {
			s.log.Warn("took over an abandoned idempotency key", "user", p.UserID)
			return "", false, nil
		}
	}
	if !easel.IsCode(err, easel.EConflict) || prev == nil {
		return "", true, err
	}
	if prev.RequestHash != reqHash {
		return "", true, &easel.Error{
			Code:    easel.EIdempotencyMismatch,
			Param:   "Idempotency-Key",
			Message: "This Idempotency-Key was used with a different request.",
		}
	}
	if prev.State != easel.IdempotencyDone {
		return "", true, &easel.Error{
			Code:       easel.EConflict,
			Message:    "A request with this Idempotency-Key is still in progress.",
			RetryAfter: time.Second,
		}
	}
	var kept idempotentJob
	if err := json.Unmarshal(prev.Response, &kept); err != nil || !easel.ValidID(kept.JobID) {
		return "", true, fmt.Errorf("idempotency record of %q: unreadable answer", p.UserID)
	}
	return kept.JobID, true, nil
}

// idempotencyLease is how long a request may hold its key before making its job: a
// few catalog writes, so a minute means the instance died.
const idempotencyLease = time.Minute
