package offline

import (
	"context"
	"errors"
	"fmt"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/imagecheck"
)

var _ easel.Editor = (*Generator)(nil)

// Limits of the offline edits beyond the shared input limits.
const (
	// MaxEditOutputPixels bounds what an offline edit makes (outpaint margins, fast
	// upscales): 4096 × 4096.
	MaxEditOutputPixels = 4096 * 4096
	// maxEditPrompt bounds the edit prompts, like Generate's.
	maxEditPrompt = 2000
)

// editOperations is what the offline model accepts for each edit operation: the
// shared input limits of the Stability image services (so a request that works here
// works on Bedrock), its own style presets (the palette families) and PNG/JPEG out.
// Creative and conservative upscales double each side (at most 4096 px), fast ones
// quadruple it, as Bedrock's does.
func editOperations() map[string]easel.OperationSpec {
	lim := easel.EditImageLimits()
	fast := lim
	fast.MinSide, fast.MaxSide, fast.MinPixels, fast.MaxPixels, fast.MaxAspect = 32, 1536, 1024, 1<<20, 0
	small := lim
	small.MinPixels, small.MaxPixels = 4096, 1<<20
	prompt := func() *easel.TextParam { return &easel.TextParam{Required: true, MaxLength: maxEditPrompt} }
	optional := func() *easel.TextParam { return &easel.TextParam{MaxLength: maxEditPrompt} }
	grow := easel.NumberParam{Min: 0, Max: 20, Default: 5, Integer: true}
	side := easel.NumberParam{Min: 0, Max: 2000, Default: 0, Integer: true}
	unit := func(def float64) easel.NumberParam { return easel.NumberParam{Min: 0, Max: 1, Default: def} }
	const seedMax = 4294967295
	formats := func() []string { return []string{"png", "jpeg"} }
	same := easel.OutputRule{Kind: easel.OutputSame}
	mp := easel.OutputRule{Kind: easel.OutputMegapixel}
	op := func(desc string, o easel.OperationSpec) easel.OperationSpec {
		o.Description = desc
		if o.Image.MaxBytes == 0 {
			o.Image = lim
		}
		if o.OutputFormats == nil {
			o.OutputFormats = formats()
		}
		if o.SeedMax != 0 {
			o.StylePresets = styles()
		}
		return o
	}
	return map[string]easel.OperationSpec{
		easel.OpInpaint: op("Repaints the masked area (or the image's transparent pixels) with a scene drawn from the prompt.", easel.OperationSpec{
			Mask: easel.MaskOrAlpha, Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"grow_mask": grow}, SeedMax: seedMax, Output: same}),
		easel.OpOutpaint: op("Extends the canvas by the given margins, continuing the picture's edges into a scene drawn from the prompt.", easel.OperationSpec{
			Prompt: optional(),
			Numbers: map[string]easel.NumberParam{"left": side, "right": side, "up": side, "down": side,
				"creativity": {Min: 0.1, Max: 1, Default: 0.5}},
			AtLeastOneOf: []string{"left", "right", "up", "down"}, SeedMax: seedMax,
			Output: easel.OutputRule{Kind: easel.OutputMargins, MaxPixels: MaxEditOutputPixels}}),
		easel.OpErase: op("Removes the masked area, filling it smoothly from its surroundings.", easel.OperationSpec{
			Mask: easel.MaskOrAlpha, Numbers: map[string]easel.NumberParam{"grow_mask": grow}, Output: same}),
		easel.OpRemoveBackground: op("Makes the background transparent: the region joined to the border with the border's dominant colour.", easel.OperationSpec{
			OutputFormats: []string{"png"}, Output: same}),
		easel.OpSearchReplace: op("Repaints what search_prompt names (a colour, the sky, the sun, else the subject) with a scene drawn from the prompt.", easel.OperationSpec{
			Prompt: prompt(), SearchPrompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"grow_mask": grow}, SeedMax: seedMax, Output: same}),
		easel.OpSearchRecolor: op("Changes the hue of what select_prompt names to the colour the prompt names.", easel.OperationSpec{
			Prompt: prompt(), SelectPrompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"grow_mask": grow}, SeedMax: seedMax, Output: same}),
		easel.OpUpscaleCreative: op("Doubles each side with a Catmull-Rom resampler, then sharpens and adds fine grain by creativity.", easel.OperationSpec{
			Image: small, Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"creativity": {Min: 0.1, Max: 0.5, Default: 0.3}}, SeedMax: seedMax,
			Output: easel.OutputRule{Kind: easel.OutputScale, Factor: 2, MaxSide: 4096}}),
		easel.OpUpscaleConservative: op("Doubles each side (at most 4096 px) with a Catmull-Rom resampler and a light sharpening.", easel.OperationSpec{
			Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"creativity": {Min: 0.1, Max: 0.5, Default: 0.35}}, SeedMax: seedMax,
			Output: easel.OutputRule{Kind: easel.OutputScale, Factor: 2, MaxSide: 4096}}),
		easel.OpUpscaleFast: op("Quadruples each side with a Catmull-Rom resampler.", easel.OperationSpec{
			Image: fast, Output: easel.OutputRule{Kind: easel.OutputScale, Factor: 4}}),
		easel.OpSketch: op("Draws a scene from the prompt and inks the image's edges over it, control_strength dark.", easel.OperationSpec{
			Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"control_strength": unit(0.7)}, SeedMax: seedMax, Output: mp}),
		easel.OpStructure: op("Draws a scene from the prompt that takes the image's light, shade and edges, by control_strength.", easel.OperationSpec{
			Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"control_strength": unit(0.7)}, SeedMax: seedMax, Output: mp}),
		easel.OpStyleGuide: op("Draws a scene from the prompt in the palette and contrast of the image, by fidelity.", easel.OperationSpec{
			Prompt: prompt(), NegativePrompt: optional(),
			AspectRatios: []string{"16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"}, DefaultAspectRatio: "1:1",
			Numbers: map[string]easel.NumberParam{"fidelity": unit(0.5)}, SeedMax: seedMax,
			Output: easel.OutputRule{Kind: easel.OutputAspectRatio}}),
		easel.OpStyleTransfer: op("Gives the image the palette and contrast of the style image, by style_strength, and mixes in a scene by change_strength where composition_fidelity allows.", easel.OperationSpec{
			StyleImage: &lim, Prompt: optional(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"composition_fidelity": unit(0.9), "style_strength": unit(1),
				"change_strength": {Min: 0.1, Max: 1, Default: 0.9}}, SeedMax: seedMax, Output: same}),
		easel.OpImageToImage: op("Blends a scene drawn from the prompt into the image by strength (0 keeps the image, 1 replaces it).", easel.OperationSpec{
			Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"strength": {Min: 0, Max: 1, Default: 0.7}}, SeedMax: seedMax, Output: mp}),
	}
}

// Edit performs one edit operation (see Spec().Operations) with real pixel work:
// see docs/offline.md for what each operation does. The same request gives the same
// bytes. It validates the request again, needs a seed for operations that take one,
// and checks ctx between steps (a cancelled context gives EModelTimeout).
func (g *Generator) Edit(ctx context.Context, req *easel.EditRequest) (*easel.Generation, error) {
	spec := g.Spec()
	ins, err := spec.InspectEdit(req)
	if err != nil {
		return nil, err
	}
	op, _ := spec.Operation(req.Operation)
	r := *req
	spec.NormalizeEdit(&r)
	var seed uint64
	if op.SeedMax > 0 {
		if r.Seed == nil {
			return nil, easel.ParamErrorf("seed", "The offline generator needs a seed.")
		}
		seed = *r.Seed
	}
	out, alpha, err := g.edit(ctx, &r, op, ins, seed)
	if err != nil {
		var e *easel.Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, easel.WrapError(easel.EModelError, err, "The offline generator failed to edit the image.")
	}
	if err := ctx.Err(); err != nil {
		return nil, easel.WrapError(easel.EModelTimeout, err, "The request was cancelled or ran out of time.")
	}
	var data []byte
	switch {
	case alpha != nil:
		data, err = encodePNGAlpha(out, alpha)
	case r.OutputFormat == "jpeg":
		data, err = encodeJPEG(out)
	default:
		data, err = encodePNG(out)
	}
	if err != nil {
		return nil, easel.WrapError(easel.EModelError, err, "The offline generator failed to encode the image.")
	}
	return &easel.Generation{Images: []easel.GeneratedImage{{
		Data: data, ContentType: contentType(r.OutputFormat), Seed: seed, Width: out.w, Height: out.h,
	}}}, nil
}

// edit decodes the inputs and runs the operation; alpha is nil for opaque results.
func (g *Generator) edit(ctx context.Context, r *easel.EditRequest, op *easel.OperationSpec, ins *easel.EditInputs, seed uint64) (*canvas, []uint8, error) {
	img, _, err := imagecheck.Decode(r.Image, op.Image.MaxPixels)
	if err != nil {
		return nil, nil, undecodable("image", err, "The image could not be decoded.")
	}
	src, srcAlpha := fromImage(img)
	img = nil
	if err := ctx.Err(); err != nil {
		return nil, nil, easel.WrapError(easel.EModelTimeout, err, "The request was cancelled or ran out of time.")
	}
	outSize := op.OutputSize(easel.Size{Width: src.w, Height: src.h}, r)
	num := func(name string) float64 { v, _ := r.Number(name); return v }
	scene := func(w, h int) *canvas {
		return paint(input{prompt: r.Prompt, negative: r.NegativePrompt, style: r.StylePreset, seed: seed, w: w, h: h})
	}
	switch r.Operation {
	case easel.OpInpaint, easel.OpErase:
		m, err := editMask(r, ins, srcAlpha, src.w, src.h, op.Image.MaxPixels)
		if err != nil {
			return nil, nil, err
		}
		m = growMask(m, src.w, src.h, int(num("grow_mask")))
		var fill *canvas
		if r.Operation == easel.OpErase {
			fill = pushPull(src, invert(m))
		} else {
			fill = scene(src.w, src.h)
			transferColour(fill, statsOf(src), 0.5) // half-way to the picture's palette
		}
		composite(src, fill, m)
		return src, nil, nil
	case easel.OpOutpaint:
		left, up := int(num("left")), int(num("up"))
		s := scene(outSize.Width, outSize.Height)
		transferColour(s, statsOf(src), 1-num("creativity")/2)
		return outpaintFill(src, s, left, up, num("creativity")), nil, nil
	case easel.OpRemoveBackground:
		fg := invert(backgroundMask(src))
		fg = boxBlur(fg, src.w, src.h, 1) // a soft, anti-aliased edge
		if srcAlpha != nil {
			for i, a := range srcAlpha {
				fg[i] = uint8(int(fg[i]) * int(a) / 255)
			}
		}
		return src, fg, nil
	case easel.OpSearchReplace:
		m := growMask(selectRegion(src, r.SearchPrompt), src.w, src.h, int(num("grow_mask")))
		fill := scene(src.w, src.h)
		transferColour(fill, statsOf(src), 0.3)
		composite(src, fill, m)
		return src, nil, nil
	case easel.OpSearchRecolor:
		m := growMask(selectRegion(src, r.SelectPrompt), src.w, src.h, int(num("grow_mask")))
		recolor(src, m, targetHue(r.Prompt))
		return src, nil, nil
	case easel.OpUpscaleCreative, easel.OpUpscaleConservative, easel.OpUpscaleFast:
		out := resize(src, outSize.Width, outSize.Height)
		switch r.Operation {
		case easel.OpUpscaleCreative:
			sharpen(out, 2, 2*num("creativity"), 40*num("creativity"), seed)
		case easel.OpUpscaleConservative:
			sharpen(out, 1, num("creativity"), 0, seed)
		}
		return out, nil, nil
	case easel.OpSketch, easel.OpStructure:
		s := scene(outSize.Width, outSize.Height)
		guide(s, resize(src, s.w, s.h), num("control_strength"), r.Operation == easel.OpStructure)
		return s, nil, nil
	case easel.OpStyleGuide:
		s := scene(outSize.Width, outSize.Height)
		transferColour(s, statsOf(src), 0.3+0.7*num("fidelity"))
		return s, nil, nil
	case easel.OpStyleTransfer:
		styleImg, _, err := imagecheck.Decode(r.StyleImage, op.StyleImage.MaxPixels)
		if err != nil {
			return nil, nil, undecodable("style_image", err, "The style image could not be decoded.")
		}
		style, _ := fromImage(styleImg)
		stats := statsOf(style)
		out := newCanvas(src.w, src.h)
		copy(out.pix, src.pix)
		transferColour(out, stats, num("style_strength"))
		if mix := num("change_strength") * (1 - num("composition_fidelity")); mix > 0 {
			s := scene(src.w, src.h)
			transferColour(s, stats, 1)
			blend(out, s, mix)
		}
		return out, nil, nil
	case easel.OpImageToImage:
		out := resize(src, outSize.Width, outSize.Height)
		blend(out, scene(outSize.Width, outSize.Height), num("strength"))
		return out, nil, nil
	}
	return nil, nil, fmt.Errorf("offline: no implementation of %q", r.Operation)
}

// editMask is the mask of an inpaint or erase: the given mask's luminance, or else
// the source's transparency. A mask that selects nothing is refused: the result would
// be the input unchanged.
func editMask(r *easel.EditRequest, ins *easel.EditInputs, alpha []uint8, w, h, maxPixels int) ([]uint8, error) {
	var m []uint8
	if ins.Mask != nil {
		img, _, err := imagecheck.Decode(r.Mask, maxPixels)
		if err != nil {
			return nil, undecodable("mask", err, "The mask could not be decoded.")
		}
		m = maskOf(img)
	} else if alpha != nil {
		m = invert(alpha)
	}
	if m == nil || !hasValue(m) {
		if ins.Mask != nil {
			return nil, easel.ParamErrorf("mask", "The mask is black everywhere: paint white where the image should change.")
		}
		return nil, easel.ParamErrorf("mask", "The image has no transparent pixel to %s; give a mask.", r.Operation)
	}
	return m, nil
}

// targetHue is the hue the prompt of a recolor names: its first colour word, else a
// hue from its words' hash (so any prompt recolors, deterministically).
func targetHue(prompt string) float64 {
	p := parsePrompt(prompt, "")
	switch {
	case len(p.hues) > 0:
		return p.hues[0]
	case len(p.tints) > 0:
		return p.tints[0]
	}
	return float64(p.hash % 360)
}

// undecodable is the error for an input whose header passed but whose data did not
// decode (truncated or corrupt).
func undecodable(param string, err error, msg string) *easel.Error {
	return &easel.Error{Code: easel.EInvalid, Param: param, Message: msg, Err: err}
}
