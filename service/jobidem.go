package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/easelhq/easel"
)

// jobRequestHash identifies a request for idempotency: the request as the caller sent
// it (before defaults) and its job options, in Go's fixed field order.
func jobRequestHash(req *easel.GenerateRequest, opt *JobOptions) string {
	b, _ := json.Marshal(struct {
		R *easel.GenerateRequest `json:"r"`
		O *JobOptions            `json:"o"`
	}{req, opt})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// idempotentJob is what an idempotency record keeps: the job the request made.
type idempotentJob struct {
	JobID string `json:"job_id"`
}

// claimIdempotencyKey claims the key for a new request, or returns the job of the
// earlier request that claimed it (a replay).
func (s *Service) claimIdempotencyKey(ctx context.Context, p *Principal, key, reqHash string) (*easel.Job, error) {
	id, replay, err := s.beginIdempotent(ctx, p, key, reqHash)
	if err != nil || !replay {
		return nil, err
	}
	return s.GetJob(ctx, p, id)
}

// settleIdempotencyKey keeps the job a request made under its key, or releases the
// key when the request failed before making one (it may then be retried).
func (s *Service) settleIdempotencyKey(p *Principal, key, reqHash string, sub *Submission, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err != nil || sub == nil {
		if aerr := s.catalog.AbortIdempotent(ctx, p.UserID, key); aerr != nil {
			s.log.Warn("release idempotency key", "user", p.UserID, "err", aerr)
		}
		return
	}
	body, _ := json.Marshal(idempotentJob{JobID: sub.Job.ID})
	now := s.now().UTC()
	rec := &easel.IdempotencyRecord{
		UserID: p.UserID, Key: key, RequestHash: reqHash, State: easel.IdempotencyDone,
		StatusCode: http.StatusAccepted, Response: body,
		CreatedAt: now, ExpiresAt: now.Add(s.limits.IdempotencyTTL),
	}
	if ferr := s.catalog.FinishIdempotent(ctx, rec); ferr != nil {
		s.log.Warn("store idempotent job", "user", p.UserID, "err", ferr)
	}
}
