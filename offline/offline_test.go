package offline_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/offline"
)

func asError(err error, target **easel.Error) bool { return errors.As(err, target) }

// request returns a validated, normalized request, as the service hands it to a model.
func request(prompt string, seed uint64, w, h, n int) *easel.GenerateRequest {
	return &easel.GenerateRequest{
		Prompt: prompt, Model: "offline", Width: w, Height: h, N: n, Seed: &seed, OutputFormat: "png",
	}
}

func TestSpec(t *testing.T) {
	spec := offline.New().Spec()
	if spec.ID != "offline" || spec.Provider != "offline" {
		t.Errorf("Spec() ID, Provider = %q, %q, want offline, offline", spec.ID, spec.Provider)
	}
	if spec.MaxPromptLength != 2000 || !spec.NegativePrompt || spec.MaxImages != 4 || spec.SeedMax != 4294967295 {
		t.Errorf("Spec() = %+v: wrong limits", spec)
	}
	if r := spec.SizeRange; r == nil || *r != (easel.SizeRange{Min: 256, Max: 2048, Step: 64, MaxAspect: 4}) {
		t.Errorf("Spec().SizeRange = %+v, want 256..2048 step 64, aspect 4", r)
	}
	if spec.DefaultSize != (easel.Size{Width: 1024, Height: 1024}) {
		t.Errorf("Spec().DefaultSize = %v, want 1024x1024", spec.DefaultSize)
	}
	if !slices.Equal(spec.OutputFormats, []string{"png", "jpeg"}) {
		t.Errorf("Spec().OutputFormats = %v, want [png jpeg]", spec.OutputFormats)
	}
	if spec.Description == "" || len(spec.Styles) == 0 {
		t.Errorf("Spec() has no description or no styles: %+v", spec)
	}

	seedMax := spec.SeedMax
	valid := []*easel.GenerateRequest{
		{Prompt: "hills"},
		{Prompt: "hills", Width: 2048, Height: 512, N: 4, Seed: &seedMax, Style: "noir", OutputFormat: "jpeg", NegativePrompt: "sun"},
		{Prompt: "hills", Width: 256, Height: 1024},
		{Prompt: "hills", AspectRatio: "16:9"},
	}
	for _, req := range valid {
		if err := spec.Validate(req); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", req, err)
		}
		spec.Normalize(req)
		if req.Width == 0 || req.Height == 0 || req.OutputFormat == "" || req.N == 0 {
			t.Errorf("Normalize left %+v incomplete", req)
		}
	}
	tooBig := seedMax + 1
	invalid := []struct {
		req   easel.GenerateRequest
		param string
	}{
		{easel.GenerateRequest{Prompt: "hills", Width: 1000, Height: 1024}, "width"},
		{easel.GenerateRequest{Prompt: "hills", Width: 2048, Height: 256}, "width"},
		{easel.GenerateRequest{Prompt: "hills", N: 5}, "n"},
		{easel.GenerateRequest{Prompt: "hills", Seed: &tooBig}, "seed"},
		{easel.GenerateRequest{Prompt: "hills", Style: "cubist"}, "style"},
		{easel.GenerateRequest{Prompt: "hills", OutputFormat: "webp"}, "output_format"},
	}
	for _, c := range invalid {
		var e *easel.Error
		if err := spec.Validate(&c.req); !asError(err, &e) || e.Param != c.param {
			t.Errorf("Validate(%+v) = %v, want an error on %s", c.req, err, c.param)
		}
	}
}

func TestGenerate(t *testing.T) {
	g := offline.New()
	req := request("a lighthouse on the coast at dusk", 4294967294, 256, 256, 3)
	gen, err := g.Generate(t.Context(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(gen.Images) != 3 || gen.Filtered != 0 {
		t.Fatalf("Generate gave %d images (%d filtered), want 3 (0)", len(gen.Images), gen.Filtered)
	}
	// Seeds count up from the request's and wrap past SeedMax.
	wantSeeds := []uint64{4294967294, 4294967295, 0}
	for i, im := range gen.Images {
		if im.Seed != wantSeeds[i] || im.Width != 256 || im.Height != 256 || im.ContentType != "image/png" {
			t.Errorf("image %d: seed %d, %dx%d, %s; want seed %d, 256x256, image/png",
				i, im.Seed, im.Width, im.Height, im.ContentType, wantSeeds[i])
		}
		if b := decode(t, im.Data).Bounds(); b.Dx() != 256 || b.Dy() != 256 {
			t.Errorf("image %d decodes to %v, want 256x256", i, b)
		}
	}
	// Each image is what Render draws for its seed.
	if want := render(t, req.Prompt, "", 0, 256, 256, "png"); string(want) != string(gen.Images[2].Data) {
		t.Errorf("image 2 differs from Render(seed 0)")
	}
	if string(gen.Images[0].Data) == string(gen.Images[1].Data) {
		t.Errorf("images 0 and 1 are identical, want different seeds to differ")
	}
}

func TestGenerateRejectsWhatTheSpecRefuses(t *testing.T) {
	for _, req := range []*easel.GenerateRequest{
		request("hills", 1, 1000, 1024, 1),
		request("hills", 1, 256, 256, 5),
		request("", 1, 256, 256, 1),
		{Prompt: "hills", Width: 256, Height: 256, N: 1, OutputFormat: "png"}, // no seed
	} {
		if _, err := offline.New().Generate(t.Context(), req); !easel.IsCode(err, easel.EInvalid) {
			t.Errorf("Generate(%+v) error = %v, want invalid_request", req, err)
		}
	}
}

func TestGenerateStylesAndFormats(t *testing.T) {
	g := offline.New()
	base := request("mountains over a lake", 8, 256, 256, 1)
	plain, err := g.Generate(t.Context(), base)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	for _, style := range g.Spec().Styles {
		req := *base
		req.Style = style
		a, err := g.Generate(t.Context(), &req)
		if err != nil {
			t.Fatalf("Generate(style %q): %v", style, err)
		}
		if style == "noir" {
			req.OutputFormat = "jpeg"
			a, err = g.Generate(t.Context(), &req)
			if err != nil {
				t.Fatalf("Generate(style %q, jpeg): %v", style, err)
			}
			if im := a.Images[0]; im.ContentType != "image/jpeg" || decode(t, im.Data).Bounds().Dx() != 256 {
				t.Errorf("Generate(jpeg) = %s, want a 256-wide image/jpeg", im.ContentType)
			}
			b, err := g.Generate(t.Context(), &req)
			if err != nil {
				t.Fatalf("Generate(style %q): %v", style, err)
			}
			if string(a.Images[0].Data) != string(b.Images[0].Data) {
				t.Errorf("Generate(style %q) twice gave different bytes", style)
			}
		}
		if string(a.Images[0].Data) == string(plain.Images[0].Data) {
			t.Errorf("Generate(style %q) = the picture without a style", style)
		}
	}
}

// cancelAfter is a context whose Err turns to Canceled after n calls.
type cancelAfter struct {
	context.Context
	n     int32
	calls atomic.Int32
}

func (c *cancelAfter) Err() error {
	if c.calls.Add(1) > c.n {
		return context.Canceled
	}
	return nil
}

func TestGenerateHonoursCancellation(t *testing.T) {
	g := offline.New()
	t.Run("before the first image", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := g.Generate(ctx, request("hills", 1, 256, 256, 2))
		if !easel.IsCode(err, easel.EModelTimeout) || !errors.Is(err, context.Canceled) {
			t.Errorf("Generate(cancelled) = %v, want model_timeout wrapping context.Canceled", err)
		}
	})
	t.Run("between images", func(t *testing.T) {
		ctx := &cancelAfter{Context: t.Context(), n: 1}
		gen, err := g.Generate(ctx, request("hills", 1, 256, 256, 4))
		if gen != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("Generate = %v, %v; want nil and an error wrapping context.Canceled", gen, err)
		}
		if got := ctx.calls.Load(); got != 2 {
			t.Errorf("Generate checked the context %d times, want 2 (drew one image, then stopped)", got)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 0)
		defer cancel()
		_, err := g.Generate(ctx, request("hills", 1, 256, 256, 1))
		if !easel.IsCode(err, easel.EModelTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Generate(expired) = %v, want model_timeout wrapping context.DeadlineExceeded", err)
		}
	})
}

func TestGenerateIsSafeForConcurrentUse(t *testing.T) {
	g := offline.New()
	want := render(t, "desert dunes", "", 3, 256, 256, "png")
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			gen, err := g.Generate(t.Context(), request("desert dunes", 3, 256, 256, 1))
			if err == nil && string(gen.Images[0].Data) != string(want) {
				err = errors.New("concurrent Generate gave other bytes")
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
