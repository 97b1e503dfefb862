package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/imagecheck"
	"github.com/easelhq/easel/pngtext"
)

// MaxEditN bounds the results of one edit request (n): each is a model call.
const MaxEditN = 4

// DefaultMaxConcurrentEdits is Limits.MaxConcurrentEdits of a fresh install. An edit of
// a 9.4 MP input holds its request body (up to --max-edit-body), the decoded inputs and
// the model's answer: about 100 MB at worst (docs/edits.md), so 4 bound edits to about
// 0.5 GB of heap on an instance.
const DefaultMaxConcurrentEdits = 4

// EditInput is an edit request as the HTTP layer decoded it: the fields in Request,
// each input image either uploaded (its bytes in Request.Image, Mask, StyleImage) or
// one of the caller's stored images (by id).
type EditInput struct {
	Request      easel.EditRequest
	ImageID      string
	MaskID       string
	StyleImageID string
	// Slot is the caller's edit slot (AcquireEdit), taken before the body was read;
	// a run on this instance takes it over. nil: the run takes its own.
	Slot *EditSlot
}

// EditSlot is a place among the instance's edits in progress (Limits.MaxConcurrentEdits).
type EditSlot struct {
	mu      sync.Mutex
	release func()
}

// Release gives the slot back, unless a run took it over. It may be called more than
// once; a nil slot does nothing.
func (e *EditSlot) Release() {
	if e == nil {
		return
	}
	e.mu.Lock()
	r := e.release
	e.release = nil
	e.mu.Unlock()
	if r != nil {
		r()
	}
}

// hand takes the slot over: the caller's Release then does nothing, and the returned
// func gives it back.
func (e *EditSlot) hand() func() {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.release
	e.release = nil
	if r == nil {
		return func() {}
	}
	return r
}

// AcquireEdit waits for a place among the instance's edits in progress, or the end of
// ctx. The HTTP layer takes it before reading an edit's body, so at most
// MaxConcurrentEdits edit bodies, decoded inputs and model answers are held at once.
func (s *Service) AcquireEdit(ctx context.Context) (*EditSlot, error) {
	if s.editSlots == nil {
		return &EditSlot{}, nil
	}
	select {
	case s.editSlots <- struct{}{}:
		var once sync.Once
		return &EditSlot{release: func() { once.Do(func() { <-s.editSlots }) }}, nil
	case <-ctx.Done():
		return nil, easel.WrapError(easel.EOverloaded, context.Cause(ctx), "Too many edits are in progress; try again shortly.")
	}
}

// Editor returns the model that performs an edit: the named one, or the first
// configured model that performs the operation.
func (s *Service) editor(model, operation string) (easel.Editor, error) {
	if model != "" {
		m, err := s.model(model)
		if err != nil {
			return nil, err
		}
		ed, ok := m.(easel.Editor)
		if !ok || len(m.Spec().Operations) == 0 {
			return nil, easel.ParamErrorf("model", "Model %s does not edit images.", model)
		}
		return ed, nil
	}
	var any easel.Editor
	for _, id := range s.order {
		ed, ok := s.models[id].(easel.Editor)
		if !ok || len(ed.Spec().Operations) == 0 {
			continue
		}
		if any == nil {
			any = ed
		}
		if _, ok := ed.Spec().Operations[operation]; ok {
			return ed, nil
		}
	}
	if any == nil {
		return nil, easel.ParamErrorf("operation", "No model on this server edits images.")
	}
	return any, nil // its ValidateEdit names what it performs
}

// SubmitEdit accepts an admitted edit request as a job, like SubmitAdmitted: every
// input and field is checked against the model's operation before anything is
// written or any model called (a source id of another user is ENotFound, as for
// GetImage); then uploaded inputs are stored as the caller's images (operation
// "upload", a mask "mask"), so that the job names only stored images and every
// result's lineage resolves.
func (s *Service) SubmitEdit(ctx context.Context, a *Admission, in *EditInput, opt JobOptions, async bool) (*Submission, error) {
	sub, err := s.submitEdit(ctx, a, in, opt, async)
	if err != nil && sub == nil {
		a.Refund() // nothing was made
	}
	return sub, err
}

func (s *Service) submitEdit(ctx context.Context, a *Admission, in *EditInput, opt JobOptions, async bool) (*Submission, error) {
	req := in.Request.Clone()
	req.SourceImageID, req.StyleImageID, req.MaskImageID = "", "", ""
	ed, err := s.editor(req.Model, req.Operation)
	if err != nil {
		return nil, err
	}
	spec := ed.Spec()
	if req.N == 0 {
		req.N = 1
	}
	if req.N < 1 || req.N > MaxEditN {
		return nil, easel.ParamErrorf("n", "n must be between 1 and %d for an edit.", MaxEditN)
	}
	// Stored inputs: the caller's own images only.
	stored := []struct {
		id, param string
		data      *[]byte
		lineage   *string
	}{
		{in.ImageID, "image", &req.Image, &req.SourceImageID},
		{in.MaskID, "mask", &req.Mask, &req.MaskImageID},
		{in.StyleImageID, "style_image", &req.StyleImage, &req.StyleImageID},
	}
	for _, st := range stored {
		if st.id == "" {
			continue
		}
		if len(*st.data) > 0 {
			return nil, easel.ParamErrorf(st.param, "Give %s as an id or as bytes, not both.", st.param)
		}
		data, err := s.readInput(ctx, a.p.UserID, st.id, st.param)
		if err != nil {
			return nil, err
		}
		*st.data, *st.lineage = data, st.id
	}
	if _, err := spec.InspectEdit(req); err != nil {
		return nil, err
	}
	op, _ := spec.Operation(req.Operation)
	if op.Mask == easel.MaskOrAlpha && len(req.Mask) == 0 {
		// The header says the image has an alpha channel; is any pixel transparent?
		clear, err := imagecheck.Transparent(req.Image, max(op.Image.MaxPixels, easel.EditMaxPixels))
		if err != nil {
			return nil, &easel.Error{Code: easel.EInvalid, Param: "image", Err: err, Message: "image could not be decoded."}
		}
		if !clear {
			return nil, easel.ParamErrorf("mask", "%s needs a mask, or an image whose transparent pixels mark what to change; this image has none.", req.Operation)
		}
	}
	if err := s.checkJobOptions(ctx, &opt); err != nil {
		return nil, err
	}
	if async && s.jobs.Queue == nil {
		return nil, easel.Errorf(easel.EInvalid, "This server runs no job queue; send the request without Prefer: respond-async.")
	}
	hash := editRequestHash(req, &opt)
	spec.NormalizeEdit(req)
	if req.Seed == nil && op.SeedMax > 0 {
		seed := randomSeed(op.SeedMax)
		req.Seed = &seed
	}
	// The job names stored images only: uploads are stored once the quota allows.
	inputs := req
	jobReq := req.Clone()
	jobReq.Image, jobReq.Mask, jobReq.StyleImage = nil, nil, nil
	nj := newJob{
		kind: easel.JobEdit, spec: easel.JobSpec{Edit: jobReq}, n: req.N, edit: inputs, editSlot: in.Slot,
		store: func(ctx context.Context, js *easel.JobSpec) error {
			return s.storeUploads(ctx, a.p.UserID, inputs, js.Edit)
		},
	}
	return s.submitKeyed(ctx, a, hash, func() (*Submission, error) {
		return s.submitJob(ctx, a, nj, opt, async)
	})
}

// editRequestHash identifies an edit request for its Idempotency-Key: the fields, the
// stored inputs' ids and the uploaded inputs' digests.
func editRequestHash(req *easel.EditRequest, opt *JobOptions) string {
	digest := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		h := sha256.Sum256(b)
		return hex.EncodeToString(h[:])
	}
	b, _ := json.Marshal(struct {
		R *easel.EditRequest `json:"r"`
		I []string           `json:"i"`
		O *JobOptions        `json:"o"`
	}{req, []string{digest(req.Image), digest(req.Mask), digest(req.StyleImage)}, opt})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// readInput reads one of the user's stored images as an edit's input. Another user's
// image, or none, is ENotFound naming param, exactly as GetImage answers.
func (s *Service) readInput(ctx context.Context, user, id, param string) ([]byte, error) {
	if !easel.ValidID(id) {
		return nil, inputNotFound(param)
	}
	img, err := s.catalog.GetImage(ctx, user, id)
	if easel.IsCode(err, easel.ENotFound) {
		return nil, inputNotFound(param)
	}
	if err != nil {
		return nil, err
	}
	if img.Bytes > easel.MaxEditImageBytes {
		return nil, &easel.Error{Code: easel.EPayloadTooLarge, Param: param,
			Message: fmt.Sprintf("%s is %d bytes; at most %d are accepted.", param, img.Bytes, easel.MaxEditImageBytes)}
	}
	body, _, err := s.blobs.Get(ctx, img.Key)
	if easel.IsCode(err, easel.ENotFound) {
		return nil, inputNotFound(param)
	}
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", id, err)
	}
	defer body.Close()
	buf := bytes.NewBuffer(make([]byte, 0, img.Bytes+1))
	if _, err := io.Copy(buf, io.LimitReader(body, easel.MaxEditImageBytes+1)); err != nil {
		return nil, fmt.Errorf("read image %s: %w", id, err)
	}
	return buf.Bytes(), nil
}

func inputNotFound(param string) error {
	return &easel.Error{Code: easel.ENotFound, Param: param, Message: "No such image."}
}

// storeUploads stores the uploaded inputs of an edit (those without an id) as the
// user's images and names them in the job's request.
func (s *Service) storeUploads(ctx context.Context, user string, in, job *easel.EditRequest) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	uploads := []struct {
		data []byte
		op   string
		id   *string
	}{
		{in.Image, easel.OpUpload, &job.SourceImageID},
		{in.Mask, easel.OpMask, &job.MaskImageID},
		{in.StyleImage, easel.OpUpload, &job.StyleImageID},
	}
	for _, u := range uploads {
		if len(u.data) == 0 || *u.id != "" {
			continue
		}
		info, err := easel.InspectImage(u.data)
		if err != nil {
			return easel.WrapError(easel.EInvalid, err, "An input image could not be read.")
		}
		img := &easel.Image{Operation: u.op, Width: info.Width, Height: info.Height}
		stored, _, err := s.putImage(ctx, user, img, u.data, "image/"+info.Format, now)
		if err != nil {
			return err
		}
		*u.id = stored.ID
	}
	in.SourceImageID, in.MaskImageID, in.StyleImageID = job.SourceImageID, job.MaskImageID, job.StyleImageID
	return nil
}

// editJob calls the model for the results the job still lacks and stores them with
// their lineage.
func (s *Service) editJob(r *run) outcome {
	j := r.job
	n := j.Spec.Images()
	done := len(j.ImageIDs) + j.Filtered + j.Failed
	if done >= n {
		return outcome{}
	}
	req := j.Spec.Edit.Clone()
	m, err := s.model(req.Model)
	if err != nil {
		return outcome{err: easel.WrapError(easel.EModelUnavailable, err, "Model %s is no longer configured.", req.Model)}
	}
	ed, ok := m.(easel.Editor)
	if !ok {
		return outcome{err: easel.Errorf(easel.EModelUnavailable, "Model %s no longer edits images.", req.Model)}
	}
	spec := ed.Spec()
	if wait, err := s.modelBudget(r.ctx, spec, n-done); err != nil || wait > 0 {
		if err != nil {
			return outcome{err: err}
		}
		return outcome{retryAt: s.now().Add(wait)}
	}
	release := r.editSlot
	r.editSlot = nil
	if release == nil {
		slot, err := s.AcquireEdit(r.ctx)
		if err != nil {
			return outcome{err: err}
		}
		release = slot.Release
	}
	defer release()
	if r.edit != nil {
		req.Image, req.Mask, req.StyleImage = r.edit.Image, r.edit.Mask, r.edit.StyleImage
		r.edit = nil
	} else {
		for _, in := range []struct {
			id, param string
			data      *[]byte
		}{{req.SourceImageID, "image", &req.Image}, {req.MaskImageID, "mask", &req.Mask}, {req.StyleImageID, "style_image", &req.StyleImage}} {
			if in.id == "" {
				continue
			}
			data, err := s.readInput(r.ctx, j.UserID, in.id, in.param)
			if easel.IsCode(err, easel.ENotFound) {
				err = &easel.Error{Code: easel.EInvalid, Param: in.param, Message: fmt.Sprintf("The %s (%s) was deleted before the edit ran.", in.param, in.id)}
			}
			if err != nil {
				return outcome{err: err}
			}
			*in.data = data
		}
	}
	releaseMem, err := s.images.acquire(r.ctx, n-done)
	if err != nil {
		return outcome{err: err}
	}
	defer releaseMem()
	fields, _ := json.Marshal(req.Fields())
	start := s.now()
	var (
		out  = outcome{}
		data [][]byte
	)
	base := req.Seed
	for i := done; i < n && err == nil && r.ctx.Err() == nil; i++ {
		call := *req
		if base != nil {
			seed := *base + uint64(i)
			if op, ok := spec.Operation(req.Operation); ok && op.SeedMax > 0 {
				seed %= op.SeedMax + 1
			}
			call.Seed = &seed
		}
		gctx, cancel := context.WithTimeout(r.ctx, s.limits.GenerateTimeout)
		var gen *easel.Generation
		gen, err = ed.Edit(gctx, &call)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && r.ctx.Err() == nil {
			err = easel.WrapError(easel.EModelTimeout, err, "The model did not answer within %s.", s.limits.GenerateTimeout)
		}
		if gen != nil {
			out.filtered += gen.Filtered
			out.failed += gen.Failed
			now := s.now().UTC().Truncate(time.Millisecond)
			for k := range gen.Images {
				gi := &gen.Images[k]
				rec := &easel.Image{
					Model: call.Model, Prompt: call.Prompt, NegativePrompt: call.NegativePrompt, Seed: gi.Seed,
					AspectRatio: call.AspectRatio, Operation: call.Operation,
					SourceImageID: call.SourceImageID, StyleImageID: call.StyleImageID, MaskImageID: call.MaskImageID,
					OperationFields: fields,
				}
				img, d, serr := s.storeImage(context.WithoutCancel(r.ctx), j.UserID, rec, gi.Data,
					func() string { return editParameters(&call, gi) }, now)
				if serr != nil {
					out.failed++
					err = errors.Join(err, serr)
					continue
				}
				out.images = append(out.images, img)
				data = append(data, d)
			}
			if n-done == 1 {
				// One result: keep its bytes for the thumbnail before the model's
				// buffer goes back (several: the after-work reads them back).
				out.thumbs = s.keepForThumbs(out.images, data)
			}
			gen.Release()
			data = nil
		}
	}
	out.took = s.now().Sub(start)
	if err == nil && len(out.images) == 0 && out.filtered == 0 {
		err = easel.Errorf(easel.EModelError, "The model returned no image.")
	}
	if err != nil && len(out.images) == 0 && easel.IsCode(err, easel.ERateLimited) && r.ctx.Err() == nil {
		out.retryAt = s.now().Add(s.throttleBackoff(j))
		err = nil
	}
	out.err = err
	return out
}

// editParameters is the text of an edit result's PNG "parameters" chunk: the prompt,
// then the lineage and the operation's fields.
func editParameters(req *easel.EditRequest, gi *easel.GeneratedImage) string {
	pairs := [][2]string{
		{"Seed", strconv.FormatUint(gi.Seed, 10)},
		{"Size", strconv.Itoa(gi.Width) + "x" + strconv.Itoa(gi.Height)},
		{"Model", req.Model},
		{"Operation", req.Operation},
	}
	for _, p := range [][2]string{{"Source image", req.SourceImageID}, {"Mask image", req.MaskImageID}, {"Style image", req.StyleImageID}} {
		if p[1] != "" {
			pairs = append(pairs, p)
		}
	}
	fields := req.Fields()
	delete(fields, "seed")
	if b, err := json.Marshal(fields); err == nil && len(fields) > 0 {
		pairs = append(pairs, [2]string{"Operation fields", string(b)})
	}
	pairs = append(pairs, [2]string{"Generator", "Easel"})
	return pngtext.Parameters(req.Prompt, req.NegativePrompt, pairs...)
}
