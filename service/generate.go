package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
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
	// Replayed is true when the answer comes from an earlier request with the same
	// Idempotency-Key.
	Replayed bool `json:"-"`
}

// Generate validates req, applies the caller's limits, calls the model and stores the
// images: for each, a pending record, then the object, then the record marked ready,
// so that a crash at any point leaves either nothing visible or a complete image.
// With a non-empty idempotencyKey, a repeated request gets the first answer and the
// model is called once.
func (s *Service) Generate(ctx context.Context, p *Principal, req *easel.GenerateRequest, idempotencyKey string) (*GenerateResult, error) {
	m, err := s.model(req.Model)
	if err != nil {
		return nil, err
	}
	spec := m.Spec()
	if err := spec.Validate(req); err != nil {
		return nil, err
	}
	if len(idempotencyKey) > 255 {
		return nil, easel.ParamErrorf("Idempotency-Key", "The Idempotency-Key header is at most 255 characters.")
	}
	reqHash := requestHash(req)
	if err := s.users.allow(p.UserID); err != nil {
		s.obs.Rejected("rate")
		return nil, err
	}
	done, err := s.users.begin(p.UserID)
	if err != nil {
		s.obs.Rejected("concurrency")
		return nil, err
	}
	defer done()

	if idempotencyKey != "" {
		res, replay, err := s.beginIdempotent(ctx, p, idempotencyKey, reqHash)
		if err != nil || replay {
			return res, err
		}
	}
	res, err := s.generate(ctx, p, m, spec, req)
	if idempotencyKey != "" {
		s.finishIdempotent(p, idempotencyKey, reqHash, res, err)
	}
	return res, err
}

func (s *Service) generate(ctx context.Context, p *Principal, m easel.Model, spec easel.ModelSpec, req *easel.GenerateRequest) (*GenerateResult, error) {
	r := *req
	spec.Normalize(&r)
	if r.Seed == nil {
		seed := randomSeed(spec.SeedMax)
		r.Seed = &seed
	}
	period := s.now().UTC().Format(time.DateOnly)
	if s.limits.DailyQuota > 0 {
		if _, err := s.catalog.AddUsage(ctx, p.UserID, period, r.N, s.limits.DailyQuota); err != nil {
			if easel.IsCode(err, easel.EQuotaExceeded) {
				s.obs.Rejected("quota")
				return nil, &easel.Error{
					Code:       easel.EQuotaExceeded,
					Message:    fmt.Sprintf("Your daily quota of %d images is used up; it resets at midnight UTC.", s.limits.DailyQuota),
					RetryAfter: untilMidnight(s.now()),
				}
			}
			return nil, fmt.Errorf("count usage: %w", err)
		}
	}
	refund := func(n int) {
		if s.limits.DailyQuota > 0 && n > 0 {
			if _, err := s.catalog.AddUsage(context.WithoutCancel(ctx), p.UserID, period, -n, 0); err != nil {
				s.log.Warn("refund quota", "user", p.UserID, "err", err)
			}
		}
	}

	// Memory: room for r.N images, held until they are stored (memory.go).
	releaseMem, err := s.images.acquire(ctx, r.N)
	if err != nil {
		refund(r.N)
		return nil, err
	}
	defer releaseMem()

	start := s.now()
	gctx, cancel := context.WithTimeout(ctx, s.limits.GenerateTimeout)
	gen, err := m.Generate(gctx, &r)
	cancel()
	took := s.now().Sub(start)
	if err == nil && len(gen.Images) == 0 {
		err = easel.Errorf(easel.EModelError, "The model returned no image.")
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = easel.WrapError(easel.EModelTimeout, err, "The model did not answer within %s.", s.limits.GenerateTimeout)
		}
		refund(r.N)
		s.obs.GenerateFailed(spec.ID, easel.ErrorCode(err), took)
		return nil, err
	}
	refund(gen.Filtered)
	// Buffer ownership: the images' bytes go back to the model once stored (thumbnails
	// keep a copy of their own); nothing after store reads them.
	defer gen.Release()

	images, err := s.store(context.WithoutCancel(ctx), p, &r, gen)
	if err != nil {
		refund(r.N - gen.Filtered)
		s.obs.GenerateFailed(spec.ID, easel.ErrorCode(err), took)
		return nil, err
	}
	var total int64
	for _, img := range images {
		total += img.Bytes
	}
	s.obs.Generated(spec.ID, took, len(images), total)
	return &GenerateResult{Images: images, Filtered: gen.Filtered}, nil
}

// store records and uploads the generated images in parallel. It runs to completion
// even when the caller has gone (its context is detached by the caller), so that work
// the model was paid for is kept for an idempotent retry.
func (s *Service) store(ctx context.Context, p *Principal, req *easel.GenerateRequest, gen *easel.Generation) ([]*easel.Image, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	images := make([]*easel.Image, len(gen.Images))
	errs := make([]error, len(gen.Images))
	var wg sync.WaitGroup
	for i := range gen.Images {
		wg.Go(func() {
			images[i], errs[i] = s.storeOne(ctx, p, req, &gen.Images[i], now)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// Leave nothing half-done: remove what did get stored. What fails here is
		// left to the sweeper (pending records and unrecorded objects).
		for _, img := range images {
			if img != nil {
				if _, derr := s.catalog.DeleteImage(ctx, p.UserID, img.ID); derr == nil {
					_ = s.blobs.Delete(ctx, img.Key)
				}
			}
		}
		return nil, err
	}
	return images, nil
}

func (s *Service) storeOne(ctx context.Context, p *Principal, req *easel.GenerateRequest, gi *easel.GeneratedImage, now time.Time) (*easel.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(gi.Data))
	if err != nil {
		return nil, easel.WrapError(easel.EModelError, err, "The model returned data that is not an image.")
	}
	contentType := "image/" + format
	data := gi.Data
	if format == "png" {
		data, err = pngtext.Insert(data, pngtext.Chunk("parameters", parameters(req, gi)))
		if err != nil {
			return nil, easel.WrapError(easel.EModelError, err, "The model returned a malformed PNG.")
		}
	}
	sum := sha256.Sum256(data)
	id := easel.NewID()
	img := &easel.Image{
		ID:             id,
		UserID:         p.UserID,
		Status:         easel.StatusPending,
		Model:          req.Model,
		Prompt:         req.Prompt,
		NegativePrompt: req.NegativePrompt,
		Width:          cfg.Width,
		Height:         cfg.Height,
		Seed:           gi.Seed,
		CFGScale:       req.CFGScale,
		Style:          req.Style,
		Quality:        req.Quality,
		AspectRatio:    req.AspectRatio,
		ContentType:    contentType,
		Bytes:          int64(len(data)),
		SHA256:         hex.EncodeToString(sum[:]),
		Key:            easel.ImageKey(id, contentType),
		CreatedAt:      now,
	}
	if err := s.catalog.CreateImage(ctx, img); err != nil {
		return nil, fmt.Errorf("record image %s: %w", id, err)
	}
	if err := s.blobs.Put(ctx, img.Key, data, contentType); err != nil {
		s.discard(ctx, img)
		return nil, fmt.Errorf("store image %s: %w", id, err)
	}
	if err := s.catalog.MarkReady(ctx, p.UserID, id); err != nil {
		s.discard(ctx, img)
		return nil, fmt.Errorf("mark image %s ready: %w", id, err)
	}
	img.Status = easel.StatusReady
	if s.thumbs != nil {
		s.thumbs.enqueue(img, data)
	}
	return img, nil
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

// requestHash identifies a request for idempotency: the request as the caller sent it
// (before defaults), in Go's fixed field order.
func requestHash(req *easel.GenerateRequest) string {
	b, _ := json.Marshal(req)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
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
