package easel

import (
	"context"
	"slices"
	"strings"
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
	// but not all, Generation.Filtered says how many, and the rest are returned. When
	// none remain it returns EContentPolicy. Other codes: EModelUnavailable,
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

	MaxImages int    `json:"max_images"` // n per request
	SeedMax   uint64 `json:"seed_max"`   // seeds are 0..SeedMax

	CFGScale *FloatRange `json:"cfg_scale,omitempty"` // nil: not accepted
	Styles   []string    `json:"styles,omitempty"`
	// Qualities lists accepted "quality" values; empty: not accepted.
	Qualities     []string `json:"qualities,omitempty"`
	OutputFormats []string `json:"output_formats"` // "png", "jpeg"
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
	prompt := strings.TrimSpace(req.Prompt)
	switch n := utf8.RuneCountInString(req.Prompt); {
	case prompt == "":
		return ParamErrorf("prompt", "The prompt is required.")
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

func (s *ModelSpec) validateShape(req *GenerateRequest) error {
	if req.Width < 0 {
		return ParamErrorf("width", "width must be positive.")
	}
	if req.Height < 0 {
		return ParamErrorf("height", "height must be positive.")
	}
	sized := req.Width != 0 || req.Height != 0
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
	if req.AspectRatio != "" {
		if _, ok := s.sizeForAspect(req.AspectRatio); !ok {
			return ParamErrorf("aspect_ratio", "Model %s has no size with aspect ratio %q; give width and height.", s.ID, req.AspectRatio)
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

// sizeForAspect picks, for a model with sizes, the size whose ratio is "W:H" and whose
// area is closest to the default size's.
func (s *ModelSpec) sizeForAspect(ratio string) (Size, bool) {
	w, h, ok := ParseAspectRatio(ratio)
	if !ok {
		return Size{}, false
	}
	var cands []Size
	if len(s.Sizes) > 0 {
		for _, sz := range s.Sizes {
			if sz.Width*h == sz.Height*w {
				cands = append(cands, sz)
			}
		}
	} else if r := s.SizeRange; r != nil {
		// Every size with exactly that ratio; the closest to the default area wins below.
		step := max(r.Step, 1)
		for k := 1; k*step <= r.Max; k++ {
			width := k * step
			if width*h%w != 0 {
				continue
			}
			height := width * h / w
			if height%step != 0 || width < r.Min || height < r.Min || height > r.Max {
				continue
			}
			if r.MaxPixels > 0 && width*height > r.MaxPixels {
				continue
			}
			cands = append(cands, Size{width, height})
		}
	}
	if len(cands) == 0 {
		return Size{}, false
	}
	target := s.DefaultSize.Width * s.DefaultSize.Height
	best := cands[0]
	for _, c := range cands[1:] {
		if absInt(c.Width*c.Height-target) < absInt(best.Width*best.Height-target) {
			best = c
		}
	}
	return best, true
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
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
// output format and cfg scale. The seed is left to the caller (it is random when
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
			if sz, ok := s.sizeForAspect(req.AspectRatio); ok {
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
