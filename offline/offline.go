// Package offline is Easel's built-in image generator. It is not AI: it draws flat,
// layered illustrations (skies, suns and moons, mountains, hills, dunes, forests,
// skylines, water, or abstract geometric posters) whose composition and palette come
// from the prompt's words, and whose details come from the seed. It needs no network
// and no GPU, is deterministic, and serves laptops, demos and tests.
package offline

import (
	"context"
	"errors"
	"fmt"

	"github.com/easelhq/easel"
)

// Limits of Render. Generate accepts less (see Spec); Render also serves sizes that
// other models' fakes ask for.
const (
	// MaxSide is the longest side Render draws.
	MaxSide = 4096
	// MaxPixels bounds width × height for Render.
	MaxPixels = 4096 * 4096
)

// Generator is the offline model. It is safe for concurrent use.
type Generator struct{}

var _ easel.Model = (*Generator)(nil)

// New returns the offline generator.
func New() *Generator { return &Generator{} }

// Styles are the palette families a request may name. An empty style lets the words
// choose the palette.
func styles() []string { return []string{"vivid", "pastel", "noir", "sunset", "ocean", "forest"} }

// Spec describes what the offline generator accepts.
func (g *Generator) Spec() easel.ModelSpec {
	return easel.ModelSpec{
		ID:       "offline",
		Name:     "Offline generator",
		Provider: "offline",
		Description: "A built-in, non-AI generator that draws flat illustrations and geometric posters " +
			"from the prompt's words; for offline use, demos and tests.",
		MaxPromptLength: 2000,
		NegativePrompt:  true,
		SizeRange:       &easel.SizeRange{Min: 256, Max: 2048, Step: 64, MaxAspect: 4},
		DefaultSize:     easel.Size{Width: 1024, Height: 1024},
		MaxImages:       4,
		SeedMax:         4294967295,
		Styles:          styles(),
		OutputFormats:   []string{"png", "jpeg"},
		Operations:      editOperations(),
	}
}

// Generate draws req.N images, with seeds req.Seed, req.Seed+1, ... (wrapping past
// SeedMax). It checks ctx before each image: a cancelled or expired context ends the
// request with EModelTimeout (the error unwraps to ctx.Err()). A request the spec
// does not accept, or one without a seed or size, gets EInvalid.
func (g *Generator) Generate(ctx context.Context, req *easel.GenerateRequest) (*easel.Generation, error) {
	spec := g.Spec()
	if err := spec.Validate(req); err != nil {
		return nil, err
	}
	if req.Seed == nil {
		return nil, easel.ParamErrorf("seed", "The offline generator needs a seed.")
	}
	n := max(req.N, 1)
	gen := &easel.Generation{Images: make([]easel.GeneratedImage, 0, n)}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, easel.WrapError(easel.EModelTimeout, err, "The request was cancelled or ran out of time after %d of %d images.", i, n)
		}
		seed := (*req.Seed + uint64(i)) % (spec.SeedMax + 1)
		data, err := render(input{
			prompt: req.Prompt, negative: req.NegativePrompt, style: req.Style,
			seed: seed, w: req.Width, h: req.Height,
		}, req.OutputFormat)
		if err != nil {
			var e *easel.Error
			if errors.As(err, &e) {
				return nil, err
			}
			return nil, easel.WrapError(easel.EModelError, err, "The offline generator failed to draw the image.")
		}
		gen.Images = append(gen.Images, easel.GeneratedImage{
			Data:        data,
			ContentType: contentType(req.OutputFormat),
			Seed:        seed,
			Width:       req.Width,
			Height:      req.Height,
		})
	}
	return gen, nil
}

func contentType(format string) string {
	if format == "jpeg" {
		return "image/jpeg"
	}
	return "image/png"
}

// Render draws one picture for a prompt and encodes it as "png" or "jpeg" (an empty
// format means png). The same arguments always give the same bytes. Sides may be
// 1..MaxSide pixels, with at most MaxPixels in all; other values return EInvalid.
func Render(prompt, negativePrompt string, seed uint64, width, height int, format string) ([]byte, error) {
	return render(input{prompt: prompt, negative: negativePrompt, seed: seed, w: width, h: height}, format)
}

// render checks the size and format, draws and encodes.
func render(in input, format string) ([]byte, error) {
	switch {
	case in.w < 1 || in.w > MaxSide:
		return nil, easel.ParamErrorf("width", "width must be between 1 and %d.", MaxSide)
	case in.h < 1 || in.h > MaxSide:
		return nil, easel.ParamErrorf("height", "height must be between 1 and %d.", MaxSide)
	case in.w*in.h > MaxPixels:
		return nil, easel.ParamErrorf("width", "%dx%d has more than %d pixels.", in.w, in.h, MaxPixels)
	}
	if format != "" && format != "png" && format != "jpeg" {
		return nil, easel.ParamErrorf("output_format", "output_format must be png or jpeg, not %q.", format)
	}
	c := paint(in)
	if format == "jpeg" {
		return encodeJPEG(c)
	}
	data, err := encodePNG(c)
	if err != nil {
		return nil, fmt.Errorf("render %dx%d: %w", in.w, in.h, err)
	}
	return data, nil
}
