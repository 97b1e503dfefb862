package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of model output
	_ "image/png"
	"strconv"
	"sync"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/pngtext"
)

// GenerateResult is the answer to a generation request.
type GenerateResult struct {
	Images []*easel.Image `json:"images"`
	// Filtered counts images the model's content filter removed.
	Filtered int `json:"filtered,omitempty"`
	// Failed counts images that could not be made or stored while others were.
	Failed int `json:"failed,omitempty"`
	// Replayed is true when the answer comes from an earlier request with the same
	// Idempotency-Key.
	Replayed bool `json:"-"`
}

// Admission is a caller's right to make one generation request, given before its body
// is read: the caller's limits are applied first, so that a user over them never holds
// an instance slot or a connection's worth of work. Release it when the request ends.
type Admission struct {
	p      *Principal
	key    string // Idempotency-Key, "" when none
	done   func() // ends the user's in-progress count; nil when none was taken
	refund func() // gives the rate token back; nil when none was taken
	// replay: a finished answer is stored under the key, so no limit was applied (a
	// replay costs no model call). If the answer expires before the body is read, the
	// limits are applied then.
	replay bool
	// async: the request queues a job; it takes no concurrency place.
	async bool
}

// Replay reports whether the admission was given to replay a stored answer.
func (a *Admission) Replay() bool { return a.replay }

// Refund gives the caller's rate token back, for a request refused before it cost
// anything (bad input: invalid JSON, a field out of range). It may be called more
// than once.
func (a *Admission) Refund() {
	if a.refund != nil {
		a.refund()
		a.refund = nil
	}
}

// Release ends the admission. It may be called more than once.
func (a *Admission) Release() {
	if a.done != nil {
		a.done()
		a.done = nil
	}
}

// Admit applies the caller's limits (rate, then concurrency) before the body of a
// request that runs at once is read. A request whose Idempotency-Key holds a finished
// answer is admitted without them: it will be answered from the catalog, and a client
// retrying after a timeout must get its answer, not 429.
func (s *Service) Admit(ctx context.Context, p *Principal, idempotencyKey string) (*Admission, error) {
	return s.admit(ctx, p, idempotencyKey, false)
}

// AdmitJob is Admit for a request to queue a job (Prefer: respond-async): only the
// rate applies, since a queued job holds no slot (the user's concurrency applies when
// their jobs run).
func (s *Service) AdmitJob(ctx context.Context, p *Principal, idempotencyKey string) (*Admission, error) {
	return s.admit(ctx, p, idempotencyKey, true)
}

func (s *Service) admit(ctx context.Context, p *Principal, idempotencyKey string, async bool) (*Admission, error) {
	if len(idempotencyKey) > 255 {
		return nil, easel.ParamErrorf("Idempotency-Key", "The Idempotency-Key header is at most 255 characters.")
	}
	a := &Admission{p: p, key: idempotencyKey, async: async}
	if idempotencyKey != "" {
		rec, err := s.catalog.GetIdempotent(ctx, p.UserID, idempotencyKey)
		switch {
		case err == nil && rec.State == easel.IdempotencyDone:
			a.replay = true
			return a, nil
		case err != nil && !easel.IsCode(err, easel.ENotFound):
			return nil, fmt.Errorf("read idempotency record: %w", err)
		}
	}
	if err := s.limit(a); err != nil {
		return nil, err
	}
	return a, nil
}

// limit takes a token from the user's rate bucket and, for a request that runs at
// once, a place in their concurrency.
func (s *Service) limit(a *Admission) error {
	refund, err := s.users.allow(a.p.UserID)
	if err != nil {
		s.obs.Rejected("rate")
		return err
	}
	a.refund = refund
	if a.async {
		return nil
	}
	done, err := s.users.begin(a.p.UserID)
	if err != nil {
		refund()
		a.refund = nil
		s.obs.Rejected("concurrency")
		return err
	}
	a.done = done
	return nil
}

// Generate admits the request (Admit), then makes it (GenerateAdmitted).
func (s *Service) Generate(ctx context.Context, p *Principal, req *easel.GenerateRequest, idempotencyKey string) (*GenerateResult, error) {
	a, err := s.Admit(ctx, p, idempotencyKey)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return s.GenerateAdmitted(ctx, a, req)
}

// GenerateAdmitted makes images and waits for them: the request becomes a job that runs
// at once on this instance (SubmitAdmitted), and the answer is its images. With an
// Idempotency-Key, a repeated request gets the first answer (its images read again
// from the catalog) and the model is called once. If the job has not ended within
// SyncWait (it was handed back to the queue: a drain, or the model's throttling),
// EModelTimeout says so; the job still ends, and a retry with the same key gets its
// answer.
func (s *Service) GenerateAdmitted(ctx context.Context, a *Admission, req *easel.GenerateRequest) (*GenerateResult, error) {
	sub, err := s.SubmitAdmitted(ctx, a, req, JobOptions{}, false)
	if err != nil {
		return nil, err
	}
	if sub.Legacy != nil {
		return sub.Legacy, nil
	}
	j, imgs, err := s.Wait(ctx, a.p, sub, s.SyncWait())
	if err != nil {
		return nil, err
	}
	return ResultOf(j, imgs, sub.Replayed)
}

// SyncWait is how long a synchronous request waits for its job.
func (s *Service) SyncWait() time.Duration { return s.limits.GenerateTimeout + time.Minute }

// ResultOf turns a job that ended into the answer of a synchronous request: its
// images, or its error. A job that has not ended is EModelTimeout.
func ResultOf(j *easel.Job, imgs []*easel.Image, replayed bool) (*GenerateResult, error) {
	switch j.Status {
	case easel.JobSucceeded:
		return &GenerateResult{Images: imgs, Filtered: j.Filtered, Failed: j.Failed, Replayed: replayed}, nil
	case easel.JobFailed:
		return nil, errorOfJob(j)
	case easel.JobCanceled:
		return nil, easel.Errorf(easel.EConflict, "The job was canceled.")
	}
	return nil, &easel.Error{
		Code:       easel.EModelTimeout,
		Message:    "The images are not ready yet; the job goes on: see " + JobPath(j.ID) + ".",
		RetryAfter: 5 * time.Second,
	}
}

// storeGeneration records and uploads the generated images in parallel, each as a
// pending record, then the object, then the record marked ready, so that a crash at
// any point leaves either nothing visible or a complete image. Images that could not
// be stored are counted in failed (and what they left is cleaned up); the others are
// kept: the model was paid for them. It returns the stored images with their bytes,
// and modelErr joined with the storage errors.
func (s *Service) storeGeneration(ctx context.Context, user string, req *easel.GenerateRequest, gen *easel.Generation, modelErr error) (images []*easel.Image, data [][]byte, failed int, err error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	imgs := make([]*easel.Image, len(gen.Images))
	datas := make([][]byte, len(gen.Images))
	errs := make([]error, len(gen.Images))
	var wg sync.WaitGroup
	for i := range gen.Images {
		wg.Go(func() {
			imgs[i], datas[i], errs[i] = s.storeOne(ctx, user, req, &gen.Images[i], now)
		})
	}
	wg.Wait()
	for i, img := range imgs {
		if img != nil {
			images, data = append(images, img), append(data, datas[i])
		} else {
			failed++
		}
	}
	return images, data, failed, errors.Join(append([]error{modelErr}, errs...)...)
}

func (s *Service) storeOne(ctx context.Context, user string, req *easel.GenerateRequest, gi *easel.GeneratedImage, now time.Time) (*easel.Image, []byte, error) {
	rec := &easel.Image{
		Model:          req.Model,
		Prompt:         req.Prompt,
		NegativePrompt: req.NegativePrompt,
		Seed:           gi.Seed,
		CFGScale:       req.CFGScale,
		Style:          req.Style,
		Quality:        req.Quality,
		AspectRatio:    req.AspectRatio,
	}
	return s.storeImage(ctx, user, rec, gi.Data, func() string { return parameters(req, gi) }, now)
}

// storeImage stores one model-made image: rec holds the request's fields (the rest is
// filled in here), params the text of its PNG "parameters" chunk.
func (s *Service) storeImage(ctx context.Context, user string, rec *easel.Image, data []byte, params func() string, now time.Time) (*easel.Image, []byte, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, nil, easel.WrapError(easel.EModelError, err, "The model returned data that is not an image.")
	}
	if format == "png" {
		data, err = pngtext.Insert(data, pngtext.Chunk("parameters", params()))
		if err != nil {
			return nil, nil, easel.WrapError(easel.EModelError, err, "The model returned a malformed PNG.")
		}
	}
	img := *rec
	img.Width, img.Height = cfg.Width, cfg.Height
	return s.putImage(ctx, user, &img, data, "image/"+format, now)
}

// putImage records and stores data as the user's image: a pending record, the object,
// the record marked ready.
func (s *Service) putImage(ctx context.Context, user string, img *easel.Image, data []byte, contentType string, now time.Time) (*easel.Image, []byte, error) {
	sum := sha256.Sum256(data)
	id := easel.NewID()
	img.ID, img.UserID, img.Status = id, user, easel.StatusPending
	img.ContentType, img.Bytes, img.SHA256 = contentType, int64(len(data)), hex.EncodeToString(sum[:])
	img.Key, img.CreatedAt = easel.ImageKey(id, contentType), now
	if err := s.catalog.CreateImage(ctx, img); err != nil {
		return nil, nil, fmt.Errorf("record image %s: %w", id, err)
	}
	if err := s.blobs.Put(ctx, img.Key, data, contentType); err != nil {
		s.discard(ctx, img)
		return nil, nil, fmt.Errorf("store image %s: %w", id, err)
	}
	if err := s.catalog.MarkReady(ctx, user, id); err != nil {
		s.discard(ctx, img)
		return nil, nil, fmt.Errorf("mark image %s ready: %w", id, err)
	}
	img.Status = easel.StatusReady
	return img, data, nil
}

// discard removes what storeOne wrote for a pending image, object first, so that a
// pending record is what remains when the object delete fails: the sweeper finds
// pending records, not unrecorded objects, cheaply.
func (s *Service) discard(ctx context.Context, img *easel.Image) {
	if err := s.blobs.Delete(ctx, img.Key); err != nil {
		s.log.Warn("discard object", "key", img.Key, "err", err)
		return
	}
	if err := s.catalog.DeletePending(ctx, img.ID); err != nil && !easel.IsCode(err, easel.ENotFound) {
		s.log.Warn("discard pending record", "id", img.ID, "err", err)
	}
}

// parameters is the text of the PNG "parameters" chunk.
func parameters(req *easel.GenerateRequest, gi *easel.GeneratedImage) string {
	pairs := [][2]string{
		{"Seed", strconv.FormatUint(gi.Seed, 10)},
		{"Size", strconv.Itoa(gi.Width) + "x" + strconv.Itoa(gi.Height)},
		{"Model", req.Model},
	}
	if req.CFGScale != nil {
		pairs = append(pairs, [2]string{"CFG scale", strconv.FormatFloat(*req.CFGScale, 'g', -1, 64)})
	}
	if req.Style != "" {
		pairs = append(pairs, [2]string{"Style", req.Style})
	}
	pairs = append(pairs, [2]string{"Generator", "Easel"})
	return pngtext.Parameters(req.Prompt, req.NegativePrompt, pairs...)
}

func randomSeed(maxSeed uint64) uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	v := binary.LittleEndian.Uint64(b[:])
	if maxSeed == ^uint64(0) {
		return v
	}
	return v % (maxSeed + 1)
}

func untilMidnight(now time.Time) time.Duration {
	now = now.UTC()
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return next.Sub(now)
}
