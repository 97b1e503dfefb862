package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/easelhq/easel"
)

// storedAnswer is how a successful answer is kept in an idempotency record: the ids of
// its images, not the images, so the record stays small whatever the prompts (a
// DynamoDB item is at most 400 KB), and a replay shows the images as they are now
// (thumbnail made since, fresh URLs). Records written before ids were stored hold
// whole images under "images"; their ids are read from there.
type storedAnswer struct {
	ImageIDs []string `json:"image_ids"`
	Filtered int      `json:"filtered,omitempty"`
	Failed   int      `json:"failed,omitempty"`
	Images   []struct {
		ID string `json:"id"`
	} `json:"images,omitempty"`
}

func answerOf(res *GenerateResult) storedAnswer {
	a := storedAnswer{ImageIDs: make([]string, 0, len(res.Images)), Filtered: res.Filtered, Failed: res.Failed}
	for _, img := range res.Images {
		a.ImageIDs = append(a.ImageIDs, img.ID)
	}
	return a
}

// replay reads the images of a stored answer again. An image the user deleted since
// is left out.
func (s *Service) replay(ctx context.Context, p *Principal, body []byte) (*GenerateResult, error) {
	var a storedAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decode stored answer: %w", err)
	}
	ids := a.ImageIDs
	for _, img := range a.Images {
		ids = append(ids, img.ID)
	}
	res := &GenerateResult{Images: make([]*easel.Image, 0, len(ids)), Filtered: a.Filtered, Failed: a.Failed, Replayed: true}
	for _, id := range ids {
		img, err := s.catalog.GetImage(ctx, p.UserID, id)
		if easel.IsCode(err, easel.ENotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("replay image %s: %w", id, err)
		}
		res.Images = append(res.Images, img)
	}
	return res, nil
}

// storedError is how a final error is kept in an idempotency record.
type storedError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// beginIdempotent claims the key for this request and returns the claim, which
// finishIdempotent later names. replay is true when an earlier answer (result or
// error) is returned instead.
func (s *Service) beginIdempotent(ctx context.Context, p *Principal, key, reqHash string) (*easel.IdempotencyRecord, *GenerateResult, bool, error) {
	now := s.now().UTC().Truncate(time.Millisecond) // the claim's identity, as every catalog keeps it
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
		return rec, nil, false, nil
	}
	if easel.IsCode(err, easel.EConflict) && prev != nil && prev.State == easel.IdempotencyRunning &&
		prev.RequestHash == reqHash && now.Sub(prev.CreatedAt) > s.idempotencyLease() {
		// The instance that claimed the key died mid-request (it would have finished or
		// released it by now): take the key over. The take-over is conditional on that
		// very claim, so of two retries racing here one wins and the other conflicts.
		if prev, err = s.catalog.TakeOverIdempotent(ctx, prev, rec); err == nil {
			s.log.Warn("took over an abandoned idempotency key", "user", p.UserID)
			return rec, nil, false, nil
		}
	}
	if !easel.IsCode(err, easel.EConflict) || prev == nil {
		if easel.IsCode(err, easel.EConflict) {
			err = inProgress() // taken over and gone meanwhile: the other retry has it
		}
		return nil, nil, true, err
	}
	if prev.RequestHash != reqHash {
		return nil, nil, true, &easel.Error{
			Code:    easel.EIdempotencyMismatch,
			Param:   "Idempotency-Key",
			Message: "This Idempotency-Key was used with a different request.",
		}
	}
	if prev.State != easel.IdempotencyDone {
		return nil, nil, true, inProgress()
	}
	if prev.StatusCode != http.StatusCreated {
		var e storedError
		if err := json.Unmarshal(prev.Response, &e); err != nil {
			return nil, nil, true, err
		}
		return nil, nil, true, &easel.Error{Code: e.Code, Message: e.Message, Param: e.Param}
	}
	res, err := s.replay(ctx, p, prev.Response)
	return nil, res, true, err
}

func inProgress() error {
	return &easel.Error{
		Code:       easel.EConflict,
		Message:    "A request with this Idempotency-Key is still in progress.",
		RetryAfter: time.Second,
	}
}

// idempotencyLease is how long a running request may hold its key: the longest a
// generation can take plus a margin for storing it.
func (s *Service) idempotencyLease() time.Duration {
	return s.limits.GenerateTimeout + time.Minute
}

// finishIdempotent stores the answer of the request that made claim. Results and
// final errors (the same request would fail the same way: bad input, content policy)
// are kept; for errors worth retrying (limits, timeouts, outages) the key is released.
// Both act on this claim only: if the request outlived its lease and another retry
// took the key over, that retry's claim is left alone.
func (s *Service) finishIdempotent(claim *easel.IdempotencyRecord, res *GenerateResult, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := *claim
	rec.State = easel.IdempotencyDone
	var body []byte
	switch code := easel.ErrorCode(err); {
	case err == nil:
		rec.StatusCode = http.StatusCreated
		body, _ = json.Marshal(answerOf(res))
	case code == easel.EContentPolicy || code == easel.EInvalid:
		var e *easel.Error
		if errors.As(err, &e) {
			rec.StatusCode = http.StatusUnprocessableEntity
			body, _ = json.Marshal(storedError{Code: e.Code, Message: e.Message, Param: e.Param})
		}
	}
	if body == nil {
		if aerr := s.catalog.AbortIdempotent(ctx, claim); aerr != nil {
			s.log.Warn("release idempotency key", "user", claim.UserID, "err", aerr)
		}
		return
	}
	rec.Response = body
	rec.ExpiresAt = s.now().UTC().Add(s.limits.IdempotencyTTL)
	if ferr := s.catalog.FinishIdempotent(ctx, &rec); ferr != nil {
		s.log.Warn("store idempotent answer", "user", claim.UserID, "err", ferr)
	}
}
