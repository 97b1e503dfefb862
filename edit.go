package easel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Editor is a Model that also edits images: one image in (plus a mask or a style image
// for some operations), one image out. Which operations it performs, with which
// fields and limits, is data: Spec().Operations.
type Editor interface {
	Model
	// Edit makes one image for a request that Spec().ValidateEdit has accepted and
	// NormalizeEdit has completed (defaults set; the seed set by the caller when the
	// operation takes one). It validates again, cheaply, so nothing a model would
	// refuse is paid for.
	//
	// Codes: EInvalid (with Param) for a request the spec refuses; EContentPolicy when
	// the model's filter refused the prompt (Param "prompt"), an input image (Param
	// "image") or the result; EModelUnavailable, EModelTimeout, EModelError,
	// ERateLimited as for Generate.
	Edit(ctx context.Context, req *EditRequest) (*Generation, error)
}

// The edit operations. Their names are the API's.
const (
	OpInpaint             = "inpaint"
	OpOutpaint            = "outpaint"
	OpErase               = "erase"
	OpRemoveBackground    = "remove-background"
	OpSearchReplace       = "search-replace"
	OpSearchRecolor       = "search-recolor"
	OpUpscaleCreative     = "upscale-creative"
	OpUpscaleConservative = "upscale-conservative"
	OpUpscaleFast         = "upscale-fast"
	OpSketch              = "sketch"
	OpStructure           = "structure"
	OpStyleGuide          = "style-guide"
	OpStyleTransfer       = "style-transfer"
	OpImageToImage        = "image-to-image"
)

// Operations returns every edit operation's name, in the order the documentation lists
// them.
func Operations() []string {
	return []string{OpInpaint, OpOutpaint, OpErase, OpRemoveBackground, OpSearchReplace,
		OpSearchRecolor, OpUpscaleCreative, OpUpscaleConservative, OpUpscaleFast, OpSketch,
		OpStructure, OpStyleGuide, OpStyleTransfer, OpImageToImage}
}

// Input limits shared by the edit operations (Bedrock's Stability image services; see
// docs/bedrock.md).
const (
	// MaxEditImageBytes bounds one input image (source, mask or style image), encoded.
	MaxEditImageBytes = 10 << 20
	// MaxEditInputBytes bounds all input images of one request together, so that the
	// model call (base64, 4/3 of the bytes) stays under InvokeModel's 25,000,000-byte
	// body limit.
	MaxEditInputBytes = 18_000_000
	// EditMinSide, EditMaxPixels and EditMaxAspect bound most operations' inputs: at
	// least 64 px a side, at most 9,437,184 px, aspect ratio within 1:2.5 .. 2.5:1.
	EditMinSide   = 64
	EditMaxPixels = 9_437_184
	EditMaxAspect = 2.5
)

// EditImageLimits is the common input limit of the Stability image services.
func EditImageLimits() ImageLimits {
	return ImageLimits{MinSide: EditMinSide, MaxPixels: EditMaxPixels, MaxAspect: EditMaxAspect,
		MaxBytes: MaxEditImageBytes, Formats: []string{"png", "jpeg", "webp"}}
}

// ImageLimits bounds an input image. Zero fields do not bound.
type ImageLimits struct {
	MinSide   int      `json:"min_side"`
	MaxSide   int      `json:"max_side,omitempty"`
	MinPixels int      `json:"min_pixels,omitempty"`
	MaxPixels int      `json:"max_pixels"`
	MaxAspect float64  `json:"max_aspect,omitempty"` // max(w,h)/min(w,h)
	MaxBytes  int      `json:"max_bytes"`
	Formats   []string `json:"formats"` // sniffed from the bytes
}

// TextParam describes a text field an operation takes.
type TextParam struct {
	Required  bool `json:"required,omitempty"`
	MaxLength int  `json:"max_length"` // in characters (runes)
}

// NumberParam describes a numeric field an operation takes. A field that is not given
// takes Default (NormalizeEdit fills it in).
type NumberParam struct {
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	Default float64 `json:"default"`
	Integer bool    `json:"integer,omitempty"`
}

// How an operation takes its mask.
const (
	// MaskRequired: a mask must be given.
	MaskRequired = "required"
	// MaskOrAlpha: a mask, or else the image's own transparent pixels (which must
	// exist); a given mask wins over the alpha channel.
	MaskOrAlpha = "mask_or_alpha"
)

// Output size rules (OutputRule.Kind).
const (
	OutputSame        = "same"         // the input's size
	OutputMargins     = "margins"      // the input plus left+right and up+down
	OutputScale       = "scale"        // Factor times each side, fit within MaxSide, never smaller than the input
	OutputAspectRatio = "aspect_ratio" // about 1 MP at the request's aspect_ratio, sides multiples of 64
	OutputMegapixel   = "megapixel"    // about 1 MP at the input's aspect ratio, sides multiples of 64
)

// OutputRule says what size an operation's result is, from the input's size and the
// request. Models report the size of what they return; the rule is what the offline
// model and the Bedrock fake make, and what a caller can expect.
type OutputRule struct {
	Kind    string `json:"kind"`
	Factor  int    `json:"factor,omitempty"`
	MaxSide int    `json:"max_side,omitempty"`
	// MaxPixels, when positive, bounds the result: a request that would make a larger
	// image (outpaint margins) is refused.
	MaxPixels int `json:"max_pixels,omitempty"`
}

// OperationSpec is what one model accepts for one edit operation, as data: it drives
// ValidateEdit (before any money is spent), NormalizeEdit and GET /v1/models. A nil
// or zero field is a field the operation does not take.
type OperationSpec struct {
	Description string `json:"description"`
	// Image bounds the source image, which every operation needs.
	Image ImageLimits `json:"image"`
	// Mask is "", MaskRequired or MaskOrAlpha.
	Mask string `json:"mask,omitempty"`
	// StyleImage, when set, makes a style image required and bounds it.
	StyleImage *ImageLimits `json:"style_image,omitempty"`

	Prompt         *TextParam `json:"prompt,omitempty"`
	NegativePrompt *TextParam `json:"negative_prompt,omitempty"`
	SearchPrompt   *TextParam `json:"search_prompt,omitempty"`
	SelectPrompt   *TextParam `json:"select_prompt,omitempty"`

	// Numbers holds the numeric fields by name: grow_mask, left, right, up, down,
	// creativity, control_strength, fidelity, strength, composition_fidelity,
	// style_strength, change_strength.
	Numbers map[string]NumberParam `json:"numbers,omitempty"`
	// AtLeastOneOf names numeric fields of which at least one must be above zero
	// (outpaint's directions).
	AtLeastOneOf []string `json:"at_least_one_of,omitempty"`

	AspectRatios       []string `json:"aspect_ratios,omitempty"`
	DefaultAspectRatio string   `json:"default_aspect_ratio,omitempty"`
	// SeedMax bounds the seed; 0: the operation takes no seed.
	SeedMax       uint64   `json:"seed_max,omitempty"`
	StylePresets  []string `json:"style_presets,omitempty"`
	OutputFormats []string `json:"output_formats"` // the first is the default

	Output OutputRule `json:"output"`
}

// EditRequest asks a model to edit an image. The zero value of an optional field means
// "not given"; NormalizeEdit fills in defaults. Image bytes are never serialized.
type EditRequest struct {
	Operation string `json:"operation"`
	Model     string `json:"model,omitempty"`

	Image      []byte `json:"-"` // the source, as uploaded or stored (PNG, JPEG or WebP)
	Mask       []byte `json:"-"` // white: edit, black: keep
	StyleImage []byte `json:"-"`

	// SourceImageID and StyleImageID record lineage; the service sets them.
	SourceImageID string `json:"source_image_id,omitempty"`
	StyleImageID  string `json:"style_image_id,omitempty"`
	MaskImageID   string `json:"mask_image_id,omitempty"`

	// N is how many results a job makes (each a model call, seeds counting up from
	// Seed); 0 means 1. Models ignore it.
	N int `json:"n,omitempty"`

	Prompt         string `json:"prompt,omitempty"`
	NegativePrompt string `json:"negative_prompt,omitempty"`
	SearchPrompt   string `json:"search_prompt,omitempty"`
	SelectPrompt   string `json:"select_prompt,omitempty"`

	GrowMask            *int     `json:"grow_mask,omitempty"`
	Left                *int     `json:"left,omitempty"`
	Right               *int     `json:"right,omitempty"`
	Up                  *int     `json:"up,omitempty"`
	Down                *int     `json:"down,omitempty"`
	Creativity          *float64 `json:"creativity,omitempty"`
	ControlStrength     *float64 `json:"control_strength,omitempty"`
	Fidelity            *float64 `json:"fidelity,omitempty"`
	Strength            *float64 `json:"strength,omitempty"`
	CompositionFidelity *float64 `json:"composition_fidelity,omitempty"`
	StyleStrength       *float64 `json:"style_strength,omitempty"`
	ChangeStrength      *float64 `json:"change_strength,omitempty"`

	AspectRatio  string  `json:"aspect_ratio,omitempty"` // style-guide
	Seed         *uint64 `json:"seed,omitempty"`
	StylePreset  string  `json:"style_preset,omitempty"`
	OutputFormat string  `json:"output_format,omitempty"`
}

// Clone returns a copy of r that shares no pointer with it (the images' bytes are
// shared: they are never modified).
func (r *EditRequest) Clone() *EditRequest {
	c := *r
	for _, name := range EditNumberFields() {
		if v, ok := r.Number(name); ok {
			c.SetNumber(name, v)
		}
	}
	if r.Seed != nil {
		s := *r.Seed
		c.Seed = &s
	}
	return &c
}

// Fields returns the operation's fields as given (numbers, the search and select
// prompts, aspect ratio, seed, style preset, output format): what a result's
// OperationFields records. Images, ids and the prompts are left out.
func (r *EditRequest) Fields() map[string]any {
	out := map[string]any{}
	for _, name := range EditNumberFields() {
		if v, ok := r.Number(name); ok {
			if r.intField(name) != nil {
				out[name] = int(v)
			} else {
				out[name] = v
			}
		}
	}
	for k, v := range map[string]string{"search_prompt": r.SearchPrompt, "select_prompt": r.SelectPrompt,
		"aspect_ratio": r.AspectRatio, "style_preset": r.StylePreset, "output_format": r.OutputFormat} {
		if v != "" {
			out[k] = v
		}
	}
	if r.Seed != nil {
		out["seed"] = *r.Seed
	}
	return out
}

// EditNumberFields lists the numeric fields of EditRequest by their API names.
func EditNumberFields() []string {
	return []string{"grow_mask", "left", "right", "up", "down", "creativity", "control_strength",
		"fidelity", "strength", "composition_fidelity", "style_strength", "change_strength"}
}

// Number returns the numeric field called name and whether it was given.
func (r *EditRequest) Number(name string) (float64, bool) {
	if p := r.intField(name); p != nil {
		if *p == nil {
			return 0, false
		}
		return float64(**p), true
	}
	if p := r.floatField(name); p != nil && *p != nil {
		return **p, true
	}
	return 0, false
}

// SetNumber sets the numeric field called name (rounding for integer fields); it
// ignores names that are not numeric fields.
func (r *EditRequest) SetNumber(name string, v float64) {
	if p := r.intField(name); p != nil {
		n := int(math.Round(v))
		*p = &n
	} else if p := r.floatField(name); p != nil {
		*p = &v
	}
}

func (r *EditRequest) intField(name string) **int {
	switch name {
	case "grow_mask":
		return &r.GrowMask
	case "left":
		return &r.Left
	case "right":
		return &r.Right
	case "up":
		return &r.Up
	case "down":
		return &r.Down
	}
	return nil
}

func (r *EditRequest) floatField(name string) **float64 {
	switch name {
	case "creativity":
		return &r.Creativity
	case "control_strength":
		return &r.ControlStrength
	case "fidelity":
		return &r.Fidelity
	case "strength":
		return &r.Strength
	case "composition_fidelity":
		return &r.CompositionFidelity
	case "style_strength":
		return &r.StyleStrength
	case "change_strength":
		return &r.ChangeStrength
	}
	return nil
}

// Operation returns the spec of one of the model's operations.
func (s *ModelSpec) Operation(name string) (*OperationSpec, bool) {
	op, ok := s.Operations[name]
	if !ok {
		return nil, false
	}
	return &op, true
}

// OperationNames returns the operations the model performs, in documentation order.
func (s *ModelSpec) OperationNames() []string {
	var out []string
	for _, name := range Operations() {
		if _, ok := s.Operations[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

// ValidateEdit checks req against the model's operation spec and returns an *Error
// naming the first field at fault (Param): EInvalid for a bad field,
// EPayloadTooLarge for an image over its byte limit, EUnsupportedMedia for an image
// that is not PNG, JPEG or WebP. Images are checked from their headers only (no pixel
// is decoded), so it is cheap at any size. It does not modify req.
func (s *ModelSpec) ValidateEdit(req *EditRequest) error {
	_, err := s.InspectEdit(req)
	return err
}

// InspectEdit validates req like ValidateEdit and also returns what the images'
// headers say, for adapters that need the sizes.
func (s *ModelSpec) InspectEdit(req *EditRequest) (*EditInputs, error) {
	if req.Operation == "" {
		return nil, ParamErrorf("operation", "operation is required; one of %s.", strings.Join(Operations(), ", "))
	}
	op, ok := s.Operation(req.Operation)
	if !ok {
		if !slices.Contains(Operations(), req.Operation) {
			return nil, ParamErrorf("operation", "Unknown operation %q; want one of %s.", req.Operation, strings.Join(Operations(), ", "))
		}
		if len(s.Operations) == 0 {
			return nil, ParamErrorf("operation", "Model %s does not edit images.", s.ID)
		}
		return nil, ParamErrorf("operation", "Model %s does not perform %s; it performs %s.", s.ID, req.Operation, strings.Join(s.OperationNames(), ", "))
	}
	if err := op.validateFields(s.ID, req); err != nil {
		return nil, err
	}
	return op.validateImages(req)
}

// validateFields checks every field but the images.
func (op *OperationSpec) validateFields(model string, req *EditRequest) error {
	texts := []struct {
		name  string
		v     string
		param *TextParam
	}{
		{"prompt", req.Prompt, op.Prompt},
		{"negative_prompt", req.NegativePrompt, op.NegativePrompt},
		{"search_prompt", req.SearchPrompt, op.SearchPrompt},
		{"select_prompt", req.SelectPrompt, op.SelectPrompt},
	}
	for _, t := range texts {
		if t.param == nil {
			if t.v != "" {
				return ParamErrorf(t.name, "Operation %s does not take %s.", req.Operation, t.name)
			}
			continue
		}
		if t.param.Required && strings.TrimSpace(t.v) == "" {
			return ParamErrorf(t.name, "%s is required for %s.", t.name, req.Operation)
		}
		if n := utf8.RuneCountInString(t.v); n > t.param.MaxLength {
			return ParamErrorf(t.name, "%s is %d characters long; %s accepts at most %d.", t.name, n, req.Operation, t.param.MaxLength)
		}
	}
	for _, name := range EditNumberFields() {
		v, given := req.Number(name)
		p, takes := op.Numbers[name]
		switch {
		case !given:
		case !takes:
			return ParamErrorf(name, "Operation %s does not take %s.", req.Operation, name)
		case math.IsNaN(v) || v < p.Min || v > p.Max:
			return ParamErrorf(name, "%s must be between %g and %g for %s.", name, p.Min, p.Max, req.Operation)
		}
	}
	if len(op.AtLeastOneOf) > 0 {
		positive := false
		for _, name := range op.AtLeastOneOf {
			v, _ := req.Number(name)
			positive = positive || v > 0
		}
		if !positive {
			return ParamErrorf(op.AtLeastOneOf[0], "%s needs at least one of %s above 0.", req.Operation, strings.Join(op.AtLeastOneOf, ", "))
		}
	}
	if req.AspectRatio != "" && !slices.Contains(op.AspectRatios, req.AspectRatio) {
		if len(op.AspectRatios) == 0 {
			return ParamErrorf("aspect_ratio", "Operation %s does not take aspect_ratio: the result's shape follows the image.", req.Operation)
		}
		return ParamErrorf("aspect_ratio", "aspect_ratio must be one of %s for %s.", strings.Join(op.AspectRatios, ", "), req.Operation)
	}
	if req.Seed != nil {
		if op.SeedMax == 0 {
			return ParamErrorf("seed", "Operation %s does not take a seed.", req.Operation)
		}
		if *req.Seed > op.SeedMax {
			return ParamErrorf("seed", "seed must be between 0 and %d for %s.", op.SeedMax, req.Operation)
		}
	}
	if req.StylePreset != "" && !slices.Contains(op.StylePresets, req.StylePreset) {
		if len(op.StylePresets) == 0 {
			return ParamErrorf("style_preset", "Operation %s does not take style_preset on model %s.", req.Operation, model)
		}
		return ParamErrorf("style_preset", "style_preset must be one of %s for %s.", strings.Join(op.StylePresets, ", "), req.Operation)
	}
	if req.OutputFormat != "" && !slices.Contains(op.OutputFormats, req.OutputFormat) {
		return ParamErrorf("output_format", "output_format must be one of %s for %s on model %s.", strings.Join(op.OutputFormats, ", "), req.Operation, model)
	}
	return nil
}

// EditInputs is what ValidateEdit read from the request's images.
type EditInputs struct {
	Image      ImageInfo
	Mask       *ImageInfo // nil when no mask was given
	StyleImage *ImageInfo // nil when the operation takes none
}

// validateImages checks the source, the mask and the style image against the
// operation's limits, from their headers.
func (op *OperationSpec) validateImages(req *EditRequest) (*EditInputs, error) {
	in := &EditInputs{}
	total := 0
	addBytes := func(param string, n int) error {
		total += n
		if total > MaxEditInputBytes {
			return &Error{Code: EPayloadTooLarge, Param: param,
				Message: "The input images of one edit may hold at most 18,000,000 bytes together."}
		}
		return nil
	}
	info, err := checkImage("image", req.Image, op.Image, req.Operation)
	if err != nil {
		return nil, err
	}
	if err := addBytes("image", len(req.Image)); err != nil {
		return nil, err
	}
	in.Image = info
	switch {
	case len(req.Mask) > 0 && op.Mask == "":
		return nil, ParamErrorf("mask", "Operation %s does not take a mask.", req.Operation)
	case len(req.Mask) > 0:
		lim := op.Image
		lim.MinSide, lim.MaxSide, lim.MinPixels, lim.MaxAspect = 0, 0, 0, 0 // it must match the image instead
		m, err := checkImage("mask", req.Mask, lim, req.Operation)
		if err != nil {
			return nil, err
		}
		if m.Width != info.Width || m.Height != info.Height {
			return nil, ParamErrorf("mask", "The mask is %dx%d; it must be the size of the image, %dx%d.", m.Width, m.Height, info.Width, info.Height)
		}
		if err := addBytes("mask", len(req.Mask)); err != nil {
			return nil, err
		}
		in.Mask = &m
	case op.Mask == MaskRequired:
		return nil, ParamErrorf("mask", "%s needs a mask: white where the image should change.", req.Operation)
	case op.Mask == MaskOrAlpha && !info.Alpha:
		return nil, ParamErrorf("mask", "%s needs a mask, or an image (PNG or WebP) whose transparent pixels mark what to change.", req.Operation)
	}
	switch {
	case op.StyleImage == nil && len(req.StyleImage) > 0:
		return nil, ParamErrorf("style_image", "Operation %s does not take a style image.", req.Operation)
	case op.StyleImage != nil:
		st, err := checkImage("style_image", req.StyleImage, *op.StyleImage, req.Operation)
		if err != nil {
			return nil, err
		}
		if err := addBytes("style_image", len(req.StyleImage)); err != nil {
			return nil, err
		}
		in.StyleImage = &st
	}
	if op.Output.MaxPixels > 0 {
		if out := op.Output.Size(Size{info.Width, info.Height}, req); out.Width*out.Height > op.Output.MaxPixels {
			p := "image"
			if op.Output.Kind == OutputMargins {
				p = op.AtLeastOneOf[0]
			}
			return nil, ParamErrorf(p, "The result would be %dx%d, more than the %d pixels this model makes.", out.Width, out.Height, op.Output.MaxPixels)
		}
	}
	return in, nil
}

// checkImage checks one input image against limits, from its header.
func checkImage(param string, data []byte, lim ImageLimits, opName string) (ImageInfo, error) {
	if len(data) == 0 {
		return ImageInfo{}, ParamErrorf(param, "%s is required for %s.", param, opName)
	}
	if lim.MaxBytes > 0 && len(data) > lim.MaxBytes {
		return ImageInfo{}, &Error{Code: EPayloadTooLarge, Param: param,
			Message: fmt.Sprintf("%s is %d bytes; at most %d are accepted.", param, len(data), lim.MaxBytes)}
	}
	info, err := InspectImage(data)
	if errors.Is(err, ErrUnknownFormat) {
		return ImageInfo{}, &Error{Code: EUnsupportedMedia, Param: param,
			Message: fmt.Sprintf("%s is not a PNG, JPEG or WebP image.", param)}
	}
	if err != nil {
		return ImageInfo{}, &Error{Code: EInvalid, Param: param, Err: err,
			Message: fmt.Sprintf("%s could not be read: its header is damaged.", param)}
	}
	if len(lim.Formats) > 0 && !slices.Contains(lim.Formats, info.Format) {
		return ImageInfo{}, &Error{Code: EUnsupportedMedia, Param: param,
			Message: fmt.Sprintf("%s is %s; %s takes %s.", param, info.Format, opName, strings.Join(lim.Formats, ", "))}
	}
	w, h := info.Width, info.Height
	lo, hi := min(w, h), max(w, h)
	switch {
	case lim.MinSide > 0 && lo < lim.MinSide:
		return info, ParamErrorf(param, "%s is %dx%d; each side must be at least %d pixels for %s.", param, w, h, lim.MinSide, opName)
	case lim.MaxSide > 0 && hi > lim.MaxSide:
		return info, ParamErrorf(param, "%s is %dx%d; each side must be at most %d pixels for %s.", param, w, h, lim.MaxSide, opName)
	case lim.MinPixels > 0 && w*h < lim.MinPixels:
		return info, ParamErrorf(param, "%s is %dx%d; it must have at least %d pixels for %s.", param, w, h, lim.MinPixels, opName)
	case lim.MaxPixels > 0 && w*h > lim.MaxPixels:
		return info, ParamErrorf(param, "%s is %dx%d, %d pixels; %s takes at most %d.", param, w, h, w*h, opName, lim.MaxPixels)
	case lim.MaxAspect > 0 && float64(hi) > lim.MaxAspect*float64(lo):
		return info, ParamErrorf(param, "%s is %dx%d; its aspect ratio must be between 1:%g and %g:1 for %s.", param, w, h, lim.MaxAspect, lim.MaxAspect, opName)
	}
	return info, nil
}

// NormalizeEdit fills in the defaults of a validated request: the model, the output
// format, the aspect ratio and every numeric field the operation takes. The seed is
// left to the caller (random when absent).
func (s *ModelSpec) NormalizeEdit(req *EditRequest) {
	req.Model = s.ID
	op, ok := s.Operation(req.Operation)
	if !ok {
		return
	}
	if req.OutputFormat == "" && len(op.OutputFormats) > 0 {
		req.OutputFormat = op.OutputFormats[0]
	}
	if req.AspectRatio == "" && len(op.AspectRatios) > 0 {
		req.AspectRatio = op.DefaultAspectRatio
	}
	for _, name := range EditNumberFields() {
		if p, takes := op.Numbers[name]; takes {
			if _, given := req.Number(name); !given {
				req.SetNumber(name, p.Default)
			}
		}
	}
}

// OutputSize is the size of the result of an edit of an image of size in, by the
// operation's rule.
func (op *OperationSpec) OutputSize(in Size, req *EditRequest) Size { return op.Output.Size(in, req) }

// Size applies the rule to an input of size in.
func (r OutputRule) Size(in Size, req *EditRequest) Size {
	switch r.Kind {
	case OutputMargins:
		num := func(name string) int { v, _ := req.Number(name); return int(v) }
		return Size{in.Width + num("left") + num("right"), in.Height + num("up") + num("down")}
	case OutputScale:
		f := float64(max(r.Factor, 1))
		if long := float64(max(in.Width, in.Height)); r.MaxSide > 0 && long*f > float64(r.MaxSide) {
			f = max(float64(r.MaxSide)/long, 1)
		}
		return Size{int(float64(in.Width)*f + 0.5), int(float64(in.Height)*f + 0.5)}
	case OutputAspectRatio:
		w, h, ok := ParseAspectRatio(req.AspectRatio)
		if !ok {
			w, h = 1, 1
		}
		return MegapixelSize(w, h)
	case OutputMegapixel:
		return MegapixelSize(in.Width, in.Height)
	}
	return in
}

// MegapixelSize is the size of about one megapixel (2^20 pixels) with the aspect ratio
// w:h, each side rounded down to a multiple of 64 (at least 64): 1:1 gives 1024×1024,
// 16:9 gives 1344×768, the sizes Stability's models make.
func MegapixelSize(w, h int) Size {
	const area = 1 << 20
	r := float64(w) / float64(h)
	side := func(v float64) int { return max(int(v)/64*64, 64) }
	return Size{side(math.Sqrt(area * r)), side(math.Sqrt(area / r))}
}
