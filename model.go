package easel

import (
	"context"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Model is the Generator port: one configured image model. Implementations are safe
// for concurrent use.
type Model interface {
	// Spec describes what the model accepts. It is constant for the model's life.
	Spec() ModelSpec
	// Generate produces req.N images for a request that Spec().Validate has accepted
	// and Normalize has completed (seed, size and output format set).
	//
	// It returns the images it could make. When the model's content filter removed some
	// but not all, Generation.Filtered says how many, and the rest are returned; when
	// some of the calls or images failed otherwise, Generation.Failed says how many (the
	// others were paid for and are returned). When none remain it returns
	// EContentPolicy, or the error of the failure. Other codes: EModelUnavailable,
	// EModelTimeout, EModelError, ERateLimited, EInvalid (the model refused a parameter).
	Generate(ctx context.Context, req *GenerateRequest) (*Generation, error)
}

// Size is an image size in pixels.
type Size struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// SizeRange describes sizes a model accepts as a range rather than a list.
type SizeRange struct {
	Min  int `json:"min"`  // smallest side
	Max  int `json:"max"`  // largest side
	Step int `json:"step"` // each side is a multiple of Step
	// MaxPixels, when positive, bounds Width*Height.
	MaxPixels int `json:"max_pixels,omitempty"`
	// MaxAspect, when positive, bounds max(w,h)/min(w,h).
	MaxAspect float64 `json:"max_aspect,omitempty"`
}

// FloatRange is an inclusive range with a default.
type FloatRange struct {
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	Default float64 `json:"default"`
}

// ModelSpec is what a model accepts, as data: it drives request validation (before any
// money is spent) and the answer of GET /v1/models.
type ModelSpec struct {
	// ID is how requests name the model ("offline", "core", "stability.sd3-5-large-v1:0").
	ID string `json:"id"`
	// Name is a human-readable name.
	Name string `json:"name"`
	// Provider is "offline", "bedrock", ...
	Provider string `json:"provider"`
	// Description is one sentence for people choosing a model.
	Description string `json:"description,omitempty"`

	MaxPromptLength int  `json:"max_prompt_length"` // in characters (runes)
	NegativePrompt  bool `json:"negative_prompt"`   // accepts negative_prompt

	// Exactly one of Sizes, SizeRange or AspectRatios describes the output shape.
	Sizes        []Size     `json:"sizes,omitempty"`
	SizeRange    *SizeRange `json:"size_range,omitempty"`
	AspectRatios []string   `json:"aspect_ratios,omitempty"`
	DefaultSize  Size       `json:"default_size,omitzero"`
	// DefaultAspectRatio applies when the model takes aspect ratios.
	DefaultAspectRatio string `json:"default_aspect_ratio,omitempty"`

	MaxImages int `json:"max_images"` // n per request
	// ImagesPerCall is how many images one call to the model makes (1 for models
	// that make n images with n calls); 0: all n in one call. Per-minute model
	// budgets count calls.
	ImagesPerCall int    `json:"images_per_call,omitempty"`
	SeedMax       uint64 `json:"seed_max"` // seeds are 0..SeedMax

	CFGScale *FloatRange `json:"cfg_scale,omitempty"` // nil: not accepted
	Styles   []string    `json:"styles,omitempty"`
	// Qualities lists accepted "quality" values; empty: not accepted.
	Qualities     []string `json:"qualities,omitempty"`
	OutputFormats []string `json:"output_formats"` // "png", "jpeg"

	// Operations are the edit operations the model performs, by name (see
	// Operations()), with their fields and limits; empty: the model does not edit.
	// A model with operations implements Editor.
	Operations map[string]OperationSpec `json:"operations,omitempty"`
	// EditOnly marks a model that makes no image from text alone (Bedrock's Stability
	// image services): its Generate refuses every request with EInvalid, param "model".
	EditOnly bool `json:"edit_only,omitempty"`
}

// GenerateRequest is a request for images. The zero value of an optional field means
// "not given"; Normalize fills in defaults.
type GenerateRequest struct {
	Prompt         string   `json:"prompt"`
	NegativePrompt string   `json:"negative_prompt,omitempty"`
	Model          string   `json:"model,omitempty"`
	Width          int      `json:"width,omitempty"`
	Height         int      `json:"height,omitempty"`
	AspectRatio    string   `json:"aspect_ratio,omitempty"`
	N              int      `json:"n,omitempty"`
	Seed           *uint64  `json:"seed,omitempty"`
	CFGScale       *float64 `json:"cfg_scale,omitempty"`
	Style          string   `json:"style,omitempty"`
	Quality        string   `json:"quality,omitempty"`
	OutputFormat   string   `json:"output_format,omitempty"`
}

// GeneratedImage is one image as a model produced it.
type GeneratedImage struct {
	// Data is the encoded image (PNG or JPEG), exactly as the model produced it. The
	// caller may modify it in place and use its spare capacity (cap beyond len).
	Data        []byte
	ContentType string // "image/png" or "image/jpeg"
	Seed        uint64
	Width       int
	Height      int
	// Release, when set, hands Data's memory back to the model for reuse: call it once,
	// when Data (or anything sharing its bytes) is no longer used, typically after the
	// upload. nil: nothing to hand back (the garbage collector takes it).
	Release func()
}

// Generation is the result of Model.Generate.
type Generation struct {
	Images []GeneratedImage
	// Filtered counts images the model's content filter removed.
	Filtered int
	// Failed counts images asked for that the model failed to make (a failed call of
	// a fan-out, a slot without an image), beside those returned.
	Failed int
}

// Release releases every image's data (GeneratedImage.Release): the images' bytes must
// not be used afterwards. It is safe on a nil Generation and does nothing twice.
func (g *Generation) Release() {
	if g == nil {
		return
	}
	for i := range g.Images {
		if r := g.Images[i].Release; r != nil {
			g.Images[i].Release = nil
			r()
		}
	}
}

// Validate checks req against the spec and returns an EInvalid *Error naming the first
// field at fault. It does not modify req.
func (s *ModelSpec) Validate(req *GenerateRequest) error {
	switch n := utf8.RuneCountInString(req.Prompt); {
	case !Visible(req.Prompt):
		return ParamErrorf("prompt", "The prompt is required, and must have visible characters (not only spaces or invisible ones).")
	case n > s.MaxPromptLength:
		return ParamErrorf("prompt", "The prompt is %d characters long; model %s accepts at most %d.", n, s.ID, s.MaxPromptLength)
	}
	if req.NegativePrompt != "" {
		if !s.NegativePrompt {
			return ParamErrorf("negative_prompt", "Model %s does not accept a negative prompt.", s.ID)
		}
		if n := utf8.RuneCountInString(req.NegativePrompt); n > s.MaxPromptLength {
			return ParamErrorf("negative_prompt", "The negative prompt is %d characters long; model %s accepts at most %d.", n, s.ID, s.MaxPromptLength)
		}
	}
	if err := s.validateShape(req); err != nil {
		return err
	}
	if req.N < 0 || req.N > s.MaxImages {
		return ParamErrorf("n", "n must be between 1 and %d for model %s.", s.MaxImages, s.ID)
	}
	if req.Seed != nil && *req.Seed > s.SeedMax {
		return ParamErrorf("seed", "seed must be between 0 and %d for model %s.", s.SeedMax, s.ID)
	}
	if req.CFGScale != nil {
		if s.CFGScale == nil {
			return ParamErrorf("cfg_scale", "Model %s does not accept cfg_scale.", s.ID)
		}
		if v := *req.CFGScale; !(v >= s.CFGScale.Min && v <= s.CFGScale.Max) {
			return ParamErrorf("cfg_scale", "cfg_scale must be between %g and %g for model %s.", s.CFGScale.Min, s.CFGScale.Max, s.ID)
		}
	}
	if req.Style != "" && !slices.Contains(s.Styles, req.Style) {
		if len(s.Styles) == 0 {
			return ParamErrorf("style", "Model %s does not accept a style.", s.ID)
		}
		return ParamErrorf("style", "style must be one of %s for model %s.", strings.Join(s.Styles, ", "), s.ID)
	}
	if req.Quality != "" && !slices.Contains(s.Qualities, req.Quality) {
		if len(s.Qualities) == 0 {
			return ParamErrorf("quality", "Model %s does not accept a quality setting.", s.ID)
		}
		return ParamErrorf("quality", "quality must be one of %s for model %s.", strings.Join(s.Qualities, ", "), s.ID)
	}
	if req.OutputFormat != "" && !slices.Contains(s.OutputFormats, req.OutputFormat) {
		return ParamErrorf("output_format", "output_format must be one of %s for model %s.", strings.Join(s.OutputFormats, ", "), s.ID)
	}
	return nil
}

// Visible reports whether s has a character that shows: one that is not white space,
// a control or format character (U+200B zero width space, U+FEFF, U+2060, bidi marks,
// ...), a variation selector, or another default-ignorable code point (such as U+3164
// Hangul filler).
func Visible(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs,
			unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) && r != utf8.RuneError {
			return true
		}
	}
	return false
}

func (s *ModelSpec) validateShape(req *GenerateRequest) error {
	if req.Width < 0 {
		return ParamErrorf("width", "width must be positive.")
	}
	if req.Height < 0 {
		return ParamErrorf("height", "height must be positive.")
	}
	sized := req.Width != 0 || req.Height != 0
	if req.AspectRatio != "" && len(s.AspectRatios) == 0 {
		// A model with sizes makes the allowed size nearest to the ratio. A request that
		// Normalize completed carries both the ratio and that size, and stays valid.
		sz, err := s.sizeForAspect(req.AspectRatio)
		if err != nil {
			return err
		}
		if sized && (Size{req.Width, req.Height}) != sz {
			return ParamErrorf("aspect_ratio", "Give either width and height or aspect_ratio, not both.")
		}
		return nil
	}
	if sized && req.AspectRatio != "" {
		return ParamErrorf("aspect_ratio", "Give either width and height or aspect_ratio, not both.")
	}
	if len(s.AspectRatios) > 0 {
		if sized {
			p := "width"
			if req.Width == 0 {
				p = "height"
			}
			return ParamErrorf(p, "Model %s takes aspect_ratio (one of %s), not width and height.", s.ID, strings.Join(s.AspectRatios, ", "))
		}
		if req.AspectRatio != "" && !slices.Contains(s.AspectRatios, req.AspectRatio) {
			return ParamErrorf("aspect_ratio", "aspect_ratio must be one of %s for model %s.", strings.Join(s.AspectRatios, ", "), s.ID)
		}
		return nil
	}
	if !sized {
		return nil
	}
	if req.Width == 0 {
		return ParamErrorf("width", "width is required with height.")
	}
	if req.Height == 0 {
		return ParamErrorf("height", "height is required with width.")
	}
	if len(s.Sizes) > 0 {
		if !slices.Contains(s.Sizes, Size{req.Width, req.Height}) {
			return ParamErrorf("width", "%dx%d is not a size model %s supports; see GET /v1/models.", req.Width, req.Height, s.ID)
		}
		return nil
	}
	if r := s.SizeRange; r != nil {
		for _, f := range []struct {
			name string
			v    int
		}{{"width", req.Width}, {"height", req.Height}} {
			if f.v < r.Min || f.v > r.Max || (r.Step > 0 && f.v%r.Step != 0) {
				return ParamErrorf(f.name, "%s must be between %d and %d in steps of %d for model %s.", f.name, r.Min, r.Max, r.Step, s.ID)
			}
		}
		if r.MaxPixels > 0 && req.Width*req.Height > r.MaxPixels {
			return ParamErrorf("width", "%dx%d has more than the %d pixels model %s allows.", req.Width, req.Height, r.MaxPixels, s.ID)
		}
		if r.MaxAspect > 0 {
			lo, hi := min(req.Width, req.Height), max(req.Width, req.Height)
			if float64(hi) > r.MaxAspect*float64(lo) {
				return ParamErrorf("width", "%dx%d is more elongated than the 1:%g model %s allows.", req.Width, req.Height, r.MaxAspect, s.ID)
			}
		}
	}
	return nil
}

// areaWeight weighs a size's distance from the default area against its distance from
// the asked shape (both as |ln| of a ratio): a 2 % shape error costs as much as an area
// 2.7 times too large or too small, so an exact shape wins unless it is far smaller or
// larger than the default, and otherwise the nearest shape wins.
const areaWeight = 1.0 / 50

// sizeForAspect picks, for a model with sizes, the allowed size nearest to the ratio
// "W:H": the one minimising |ln(shape/ratio)| + areaWeight·|ln(area/default area)|.
// Ties go to the earlier size in the list, or the narrower one in a range.
func (s *ModelSpec) sizeForAspect(ratio string) (Size, error) {
	w, h, ok := ParseAspectRatio(ratio)
	if !ok {
		return Size{}, ParamErrorf("aspect_ratio", "aspect_ratio must look like 16:9 (two whole numbers up to 999).")
	}
	want := math.Log(float64(w) / float64(h))
	area := float64(s.DefaultSize.Width * s.DefaultSize.Height)
	if area <= 0 {
		area = 1024 * 1024
	}
	best, bestCost := Size{}, math.Inf(1)
	consider := func(c Size) {
		cost := math.Abs(math.Log(float64(c.Width)/float64(c.Height))-want) +
			areaWeight*math.Abs(math.Log(float64(c.Width*c.Height)/area))
		if cost < bestCost {
			best, bestCost = c, cost
		}
	}
	switch r := s.SizeRange; {
	case len(s.Sizes) > 0:
		for _, c := range s.Sizes {
			consider(c)
		}
	case r != nil:
		// For a given width the cost falls and then rises with the height, lowest at the
		// height of the exact shape, so the allowed heights next to it are the only
		// candidates.
		step := max(r.Step, 1)
		lo := (r.Min + step - 1) / step * step
		for width := lo; width <= r.Max; width += step {
			hmin, hmax := lo, r.Max/step*step
			if r.MaxAspect > 0 {
				hmin = max(hmin, int(math.Ceil(float64(width)/r.MaxAspect/float64(step)))*step)
				hmax = min(hmax, int(math.Floor(float64(width)*r.MaxAspect/float64(step)))*step)
			}
			if r.MaxPixels > 0 {
				hmax = min(hmax, r.MaxPixels/width/step*step)
			}
			if hmin > hmax {
				continue
			}
			ideal := float64(width) * float64(h) / float64(w)
			below := min(max(int(ideal)/step*step, hmin), hmax)
			consider(Size{width, below})
			if above := below + step; above <= hmax {
				consider(Size{width, above})
			}
		}
	}
	if bestCost == math.Inf(1) {
		return Size{}, ParamErrorf("aspect_ratio", "Model %s has no size for aspect ratio %s; give width and height.", s.ID, ratio)
	}
	return best, nil
}

// ParseAspectRatio parses "W:H" with small positive integers.
func ParseAspectRatio(s string) (w, h int, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	w, h = atoiSmall(a), atoiSmall(b)
	return w, h, w > 0 && h > 0
}

func atoiSmall(s string) int {
	if len(s) == 0 || len(s) > 3 {
		return 0
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Normalize fills in the defaults of a validated request: n, size or aspect ratio,
// output format and cfg scale. On a model with sizes, an aspect_ratio becomes the
// allowed size nearest to it (width and height say which) and is kept, so the
// normalized request still passes Validate. The seed is left to the caller (it is random when
// absent, and randomness is not the domain's business).
func (s *ModelSpec) Normalize(req *GenerateRequest) {
	req.Model = s.ID
	if req.N == 0 {
		req.N = 1
	}
	if len(s.AspectRatios) > 0 {
		if req.AspectRatio == "" {
			req.AspectRatio = s.DefaultAspectRatio
		}
	} else {
		if req.AspectRatio != "" {
			if sz, err := s.sizeForAspect(req.AspectRatio); err == nil {
				req.Width, req.Height = sz.Width, sz.Height
			}
		}
		if req.Width == 0 {
			req.Width, req.Height = s.DefaultSize.Width, s.DefaultSize.Height
		}
	}
	if req.OutputFormat == "" && len(s.OutputFormats) > 0 {
		req.OutputFormat = s.OutputFormats[0]
	}
	if req.CFGScale == nil && s.CFGScale != nil {
		v := s.CFGScale.Default
		req.CFGScale = &v
	}
}
