package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/easelhq/easel"
)

// An Idempotency-Key names a job. The request that claims the key (a running record)
// makes its job, then keeps the job's id under the key (a done record); a retry with
// the same key and body gets that job (202 while it runs, its images once it has
// ended), so the model is called once. A job that failed for a reason worth retrying
// (an outage, a timeout, a limit) does not hold the key: the retry takes the key over
// and makes a new job. Records are small (an id) whatever the prompts, and a replay
// shows the images as they are now (thumbnails made since, fresh URLs).

// keptJob is what a done idempotency record keeps.
type keptJob struct {
	JobID string `json:"job_id"`
}

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

// keyClaim is the outcome of claiming an Idempotency-Key.
type keyClaim struct {
	// claim is this request's record (running) when it is to make the job.
	claim *easel.IdempotencyRecord
	// job is the earlier request's job, for a replay.
	job *easel.Job
	// legacy is the stored answer of a request made before jobs existed.
	legacy *GenerateResult
}

// claimKey claims the key for a new request, or returns what an earlier request with
// the key made.
func (s *Service) claimKey(ctx context.Context, p *Principal, key, reqHash string) (keyClaim, error) {
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
		return keyClaim{claim: rec}, nil
	}
	if !easel.IsCode(err, easel.EConflict) || prev == nil {
		return keyClaim{}, err
	}
	if prev.RequestHash != reqHash {
		return keyClaim{}, &easel.Error{
			Code:    easel.EIdempotencyMismatch,
			Param:   "Idempotency-Key",
			Message: "This Idempotency-Key was used with a different request.",
		}
	}
	if prev.State == easel.IdempotencyRunning {
		if now.Sub(prev.CreatedAt) <= s.idempotencyLease() {
			return keyClaim{}, inProgress()
		}
		// The instance that claimed the key died before it made the job: take the key
		// over, conditionally on that very claim, so that of two retries racing here
		// one wins and the other conflicts.
		return s.takeOverKey(ctx, prev, rec, "took over an abandoned idempotency key")
	}
	switch prev.StatusCode {
	case http.StatusAccepted:
		var kept keptJob
		if err := json.Unmarshal(prev.Response, &kept); err != nil || !easel.ValidID(kept.JobID) {
			return keyClaim{}, fmt.Errorf("idempotency record of %q: unreadable job id", p.UserID)
		}
		j, err := s.catalog.GetJob(ctx, p.UserID, kept.JobID)
		if easel.IsCode(err, easel.ENotFound) || (err == nil && worthRetrying(j)) {
			// The job is gone (past its retention) or failed for a reason worth
			// retrying: this request makes a new one.
			return s.takeOverKey(ctx, prev, rec, "")
		}
		if err != nil {
			return keyClaim{}, err
		}
		return keyClaim{job: j}, nil
	case http.StatusCreated: // an answer stored before jobs: the ids of its images
		res, err := s.replay(ctx, p, prev.Response)
		return keyClaim{legacy: res}, err
	default: // a final error stored before jobs
		var e storedError
		if err := json.Unmarshal(prev.Response, &e); err != nil {
			return keyClaim{}, err
		}
		return keyClaim{}, &easel.Error{Code: e.Code, Message: e.Message, Param: e.Param}
	}
}

func (s *Service) takeOverKey(ctx context.Context, prev, rec *easel.IdempotencyRecord, logMsg string) (keyClaim, error) {
	if _, err := s.catalog.TakeOverIdempotent(ctx, prev, rec); err != nil {
		if easel.IsCode(err, easel.EConflict) {
			err = inProgress() // another retry took it first
		}
		return keyClaim{}, err
	}
	if logMsg != "" {
		s.log.Warn(logMsg, "user", rec.UserID)
	}
	return keyClaim{claim: rec}, nil
}

// worthRetrying reports whether a job failed in a way that the same request might not
// (the model or the service was down, slow or over a limit), so that its
// Idempotency-Key is not held to it. Bad input and the content filter fail the same
// way every time: those answers are kept.
func worthRetrying(j *easel.Job) bool {
	if j.Status != easel.JobFailed || j.Error == nil {
		return false
	}
	switch j.Error.Code {
	case easel.EInvalid, easel.EContentPolicy:
		return false
	}
	return true
}

// settleKey keeps the job a request made under its key, or releases the key when the
// request failed before making one (it may then be retried).
func (s *Service) settleKey(claim *easel.IdempotencyRecord, j *easel.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if j == nil {
		if err := s.catalog.AbortIdempotent(ctx, claim); err != nil {
			s.log.Warn("release idempotency key", "user", claim.UserID, "err", err)
		}
		return
	}
	rec := *claim
	rec.State, rec.StatusCode = easel.IdempotencyDone, http.StatusAccepted
	rec.Response, _ = json.Marshal(keptJob{JobID: j.ID})
	if err := s.catalog.FinishIdempotent(ctx, &rec); err != nil {
		s.log.Warn("keep the job of an idempotency key", "user", claim.UserID, "err", err)
	}
}

// storedAnswer is how answers were kept before jobs: the ids of their images (or, in
// older records still, whole images under "images", whose ids are read from there).
type storedAnswer struct {
	ImageIDs []string `json:"image_ids"`
	Filtered int      `json:"filtered,omitempty"`
	Failed   int      `json:"failed,omitempty"`
	Images   []struct {
		ID string `json:"id"`
	} `json:"images,omitempty"`
}

// replay reads the images of an answer stored before jobs. An image the user deleted
// since is left out.
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

// storedError is how a final error was kept before jobs.
type storedError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

func inProgress() error {
	return &easel.Error{
		Code:       easel.EConflict,
		Message:    "A request with this Idempotency-Key is still in progress.",
		RetryAfter: time.Second,
	}
}

// idempotencyLease is how long a request may hold its key before it has made its job.
// Making a job takes a few catalog writes, but requests of the version before jobs
// held their key for a whole generation, so the lease stays that long: a key held by
// a request on an instance that died is taken over after it.
func (s *Service) idempotencyLease() time.Duration {
	return s.limits.GenerateTimeout + time.Minute
}
