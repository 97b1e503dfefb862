package edittest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/easelhq/easel"
)

// commonCases are the cases every operation gets, derived from its spec: each field it
// does not take, each field out of range, and each input-image limit.
func commonCases(f *Fixtures, op string, spec *easel.OperationSpec) []Case {
	var cs []Case
	add := func(c Case) { cs = append(cs, c) }
	for _, format := range spec.OutputFormats[1:] {
		add(Case{Name: "output_format " + format, Edit: func(r *easel.EditRequest) { r.OutputFormat = format }})
	}
	add(Case{Name: "output_format gif", Edit: func(r *easel.EditRequest) { r.OutputFormat = "gif" }, Code: easel.EInvalid, Param: "output_format"})
	add(Case{Name: "no image", Edit: func(r *easel.EditRequest) { r.Image = nil }, Code: easel.EInvalid, Param: "image"})
	add(Case{Name: "image not an image", Edit: func(r *easel.EditRequest) { r.Image = []byte("GIF89a, or anything else") }, Code: easel.EUnsupportedMedia, Param: "image"})
	add(Case{Name: "image damaged", Edit: func(r *easel.EditRequest) { r.Image = r.Image[:24] }, Code: easel.EInvalid, Param: "image"})
	add(Case{Name: "image over the byte limit", Edit: func(r *easel.EditRequest) {
		r.Image = append(slices.Clone(r.Image), make([]byte, spec.Image.MaxBytes)...)
	}, Code: easel.EPayloadTooLarge, Param: "image"})
	small := spec.Image.MinSide - 1
	add(Case{Name: "image side too small", Edit: func(r *easel.EditRequest) { r.Image, r.Mask = Gray(small, 100), nil }, Code: easel.EInvalid, Param: "image"})
	side := int(math.Sqrt(float64(spec.Image.MaxPixels))) + 1
	add(Case{Name: "image bomb header", Edit: func(r *easel.EditRequest) { r.Image, r.Mask = BombPNG(100_000, 100_000), nil }, Code: easel.EInvalid, Param: "image"})
	add(Case{Name: "image over the pixel limit", Edit: func(r *easel.EditRequest) { r.Image, r.Mask = BombPNG(uint32(side), uint32(side)), nil }, Code: easel.EInvalid, Param: "image"})
	if spec.Image.MaxAspect > 0 {
		long := int(float64(spec.Image.MinSide)*spec.Image.MaxAspect) + 1
		add(Case{Name: "image too elongated", Edit: func(r *easel.EditRequest) { r.Image, r.Mask = Gray(long, spec.Image.MinSide), nil }, Code: easel.EInvalid, Param: "image"})
	}
	texts := []struct {
		name  string
		param *easel.TextParam
		set   func(r *easel.EditRequest, v string)
	}{
		{"prompt", spec.Prompt, func(r *easel.EditRequest, v string) { r.Prompt = v }},
		{"negative_prompt", spec.NegativePrompt, func(r *easel.EditRequest, v string) { r.NegativePrompt = v }},
		{"search_prompt", spec.SearchPrompt, func(r *easel.EditRequest, v string) { r.SearchPrompt = v }},
		{"select_prompt", spec.SelectPrompt, func(r *easel.EditRequest, v string) { r.SelectPrompt = v }},
	}
	for _, tx := range texts {
		switch {
		case tx.param == nil:
			add(Case{Name: tx.name + " not taken", Edit: func(r *easel.EditRequest) { tx.set(r, "a word") }, Code: easel.EInvalid, Param: tx.name})
		default:
			add(Case{Name: tx.name + " too long", Edit: func(r *easel.EditRequest) { tx.set(r, strings.Repeat("é", tx.param.MaxLength+1)) }, Code: easel.EInvalid, Param: tx.name})
			if tx.param.Required {
				add(Case{Name: tx.name + " missing", Edit: func(r *easel.EditRequest) { tx.set(r, " ") }, Code: easel.EInvalid, Param: tx.name})
			}
		}
	}
	// One good request with every optional field set, numbers at their maximum.
	add(Case{Name: "every field at its maximum", Edit: func(r *easel.EditRequest) {
		if spec.NegativePrompt != nil {
			r.NegativePrompt = "fog"
		}
		if spec.Prompt != nil && r.Prompt == "" {
			r.Prompt = "a quiet harbour"
		}
		for name, p := range spec.Numbers {
			if !slices.Contains(spec.AtLeastOneOf, name) {
				r.SetNumber(name, p.Max)
			}
		}
		if spec.SeedMax > 0 {
			r.Seed = ptr(spec.SeedMax)
		}
		if len(spec.StylePresets) > 0 {
			r.StylePreset = spec.StylePresets[len(spec.StylePresets)-1]
		}
	}})
	for _, name := range easel.EditNumberFields() {
		p, takes := spec.Numbers[name]
		if !takes {
			add(Case{Name: name + " not taken", Edit: func(r *easel.EditRequest) { r.SetNumber(name, 1) }, Code: easel.EInvalid, Param: name})
			continue
		}
		step := 0.01
		if p.Integer {
			step = 1
		}
		add(Case{Name: name + " above", Edit: func(r *easel.EditRequest) { r.SetNumber(name, p.Max+step) }, Code: easel.EInvalid, Param: name})
		add(Case{Name: name + " below", Edit: func(r *easel.EditRequest) { r.SetNumber(name, p.Min-step) }, Code: easel.EInvalid, Param: name})
	}
	if spec.SeedMax == 0 {
		add(Case{Name: "seed not taken", Edit: func(r *easel.EditRequest) { r.Seed = ptr(uint64(1)) }, Code: easel.EInvalid, Param: "seed"})
	} else {
		add(Case{Name: "seed above", Edit: func(r *easel.EditRequest) { r.Seed = ptr(spec.SeedMax + 1) }, Code: easel.EInvalid, Param: "seed"})
	}
	if len(spec.StylePresets) == 0 {
		add(Case{Name: "style_preset not taken", Edit: func(r *easel.EditRequest) { r.StylePreset = "anime" }, Code: easel.EInvalid, Param: "style_preset"})
	} else {
		add(Case{Name: "style_preset unknown", Edit: func(r *easel.EditRequest) { r.StylePreset = "no-such-style" }, Code: easel.EInvalid, Param: "style_preset"})
	}
	if len(spec.AspectRatios) == 0 {
		add(Case{Name: "aspect_ratio not taken", Edit: func(r *easel.EditRequest) { r.AspectRatio = "1:1" }, Code: easel.EInvalid, Param: "aspect_ratio"})
	}
	switch spec.Mask {
	case "":
		add(Case{Name: "mask not taken", Edit: func(r *easel.EditRequest) { r.Mask = f.Mask }, Code: easel.EInvalid, Param: "mask"})
	default:
		add(Case{Name: "mask of another size", Edit: func(r *easel.EditRequest) { r.Mask = Gray(f.W, f.H-1) }, Code: easel.EInvalid, Param: "mask"})
		add(Case{Name: "mask not an image", Edit: func(r *easel.EditRequest) { r.Mask = []byte("mask") }, Code: easel.EUnsupportedMedia, Param: "mask"})
		add(Case{Name: "no mask, opaque image", Edit: func(r *easel.EditRequest) { r.Mask = nil }, Code: easel.EInvalid, Param: "mask"})
	}
	if spec.StyleImage == nil {
		add(Case{Name: "style_image not taken", Edit: func(r *easel.EditRequest) { r.StyleImage = f.Style }, Code: easel.EInvalid, Param: "style_image"})
	} else {
		add(Case{Name: "style_image missing", Edit: func(r *easel.EditRequest) { r.StyleImage = nil }, Code: easel.EInvalid, Param: "style_image"})
		add(Case{Name: "style_image too small", Edit: func(r *easel.EditRequest) { r.StyleImage = Gray(20, 20) }, Code: easel.EInvalid, Param: "style_image"})
	}
	add(Case{Name: "unknown operation", Edit: func(r *easel.EditRequest) { r.Operation = "sharpen" }, Code: easel.EInvalid, Param: "operation"})
	return cs
}

// BombPNG returns a PNG whose header claims w×h RGBA pixels, with a tiny IDAT: a
// decompression bomb, which must be refused from its header.
func BombPNG(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		out = append(append(out, typ...), data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
	}
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	idat := []byte{0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01} // an empty zlib stream
	out := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr[:])...)
	return append(append(out, chunk("IDAT", idat)...), chunk("IEND", nil)...)
}

// changed is the share of pixels of two same-size images whose colour differs by
// more than a little.
func changed(a, b image.Image) float64 {
	r := a.Bounds()
	n := 0
	for y := range r.Dy() {
		for x := range r.Dx() {
			if colourDistance(a.At(r.Min.X+x, r.Min.Y+y), b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y)) > 24 {
				n++
			}
		}
	}
	return float64(n) / float64(r.Dx()*r.Dy())
}

func colourDistance(a, b color.Color) int {
	p, q := color.NRGBAModel.Convert(a).(color.NRGBA), color.NRGBAModel.Convert(b).(color.NRGBA)
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(p.R, q.R) + d(p.G, q.G) + d(p.B, q.B)
}

func decodeFixture(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	return img
}

// changesPicture checks that a same-size result differs from the source somewhere.
func changesPicture(t *testing.T, f *Fixtures, r *easel.EditRequest, _ easel.GeneratedImage, out image.Image) {
	t.Helper()
	if share := changed(decodeFixture(t, r.Image), out); share < 0.01 {
		t.Errorf("only %.2f%% of the pixels changed; want a visible edit", 100*share)
	}
}

// keepsOutsideMask checks an inpaint or erase: pixels far from the mask are the
// source's, and the masked area changed.
func keepsOutsideMask(t *testing.T, f *Fixtures, r *easel.EditRequest, _ easel.GeneratedImage, out image.Image) {
	t.Helper()
	if r.OutputFormat == "jpeg" {
		return // lossy: compared elsewhere
	}
	far := 0
	for _, p := range [][2]int{{2, 2}, {fw - 3, 2}, {2, fh - 3}, {fw - 3, fh - 3}} {
		if colourDistance(out.At(p[0], p[1]), f.SourcePixel(p[0], p[1])) > 24 {
			far++
		}
	}
	if far > 1 {
		t.Errorf("%d of 4 corner pixels far from the mask changed", far)
	}
	inside := 0
	for y := maskY0 + 8; y < maskY1-8; y++ {
		for x := maskX0 + 8; x < maskX1-8; x++ {
			if colourDistance(out.At(x, y), f.SourcePixel(x, y)) > 24 {
				inside++
			}
		}
	}
	if total := (maskX1 - maskX0 - 16) * (maskY1 - maskY0 - 16); inside < total/4 {
		t.Errorf("only %d of %d pixels inside the mask changed", inside, total)
	}
}

func inpaintCases(f *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{
		{Name: "with a mask", Check: keepsOutsideMask},
		{Name: "from the image's transparent pixels", Edit: func(r *easel.EditRequest) { r.Image, r.Mask = f.Holed, nil }, Check: keepsOutsideMask},
		{Name: "mask wins over alpha", Edit: func(r *easel.EditRequest) { r.Image = f.Holed }},
		{Name: "grow_mask 0", Edit: func(r *easel.EditRequest) { r.GrowMask = ptr(0) }, Check: keepsOutsideMask},
	}
}

func eraseCases(f *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{
		{Name: "with a mask", Check: keepsOutsideMask},
		{Name: "from the image's transparent pixels", Edit: func(r *easel.EditRequest) { r.Image, r.Mask = f.Holed, nil }, Check: keepsOutsideMask},
	}
}

func outpaintCases(_ *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{
		{Name: "left and down"},
		{Name: "every side", Edit: func(r *easel.EditRequest) { r.Left, r.Right, r.Up, r.Down = ptr(8), ptr(16), ptr(24), ptr(32) }},
		{Name: "with a prompt and creativity", Edit: func(r *easel.EditRequest) { r.Prompt, r.Creativity = "snowy mountains", ptr(0.9) }},
		{Name: "no direction", Edit: func(r *easel.EditRequest) { r.Left, r.Down = ptr(0), nil }, Code: easel.EInvalid, Param: "left"},
		{Name: "keeps the source", Check: func(t *testing.T, f *Fixtures, r *easel.EditRequest, _ easel.GeneratedImage, out image.Image) {
			// The source sits at (left, up) in the result.
			x, y := 10+*r.Left, 10
			if colourDistance(out.At(x, y), f.SourcePixel(10, 10)) > 24 {
				t.Errorf("pixel (%d,%d) of the result is not the source's (10,10)", x, y)
			}
		}},
	}
}

func removeBackgroundCases(_ *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{{Name: "alpha channel", Check: func(t *testing.T, f *Fixtures, _ *easel.EditRequest, _ easel.GeneratedImage, out image.Image) {
		alphaAt := func(x, y int) uint8 { return color.NRGBAModel.Convert(out.At(x, y)).(color.NRGBA).A }
		if a := alphaAt(1, 1); a != 0 {
			t.Errorf("corner alpha = %d, want 0 (background removed)", a)
		}
		if a := alphaAt(discX, discY); a != 255 {
			t.Errorf("alpha at the subject's centre = %d, want 255", a)
		}
	}}}
}

func searchReplaceCases(_ *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{
		{Name: "replaces", Check: changesPicture},
		{Name: "search for the sky", Edit: func(r *easel.EditRequest) { r.SearchPrompt = "sky" }, Check: changesPicture},
	}
}

func searchRecolorCases(_ *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{
		{Name: "recolors", Check: changesPicture},
		{Name: "select the background", Edit: func(r *easel.EditRequest) { r.SelectPrompt, r.Prompt = "blue sky", "orange" }, Check: changesPicture},
	}
}

func upscaleCases(_ *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{{Name: "upscales"}}
}

func upscaleFastCases(f *Fixtures, spec *easel.OperationSpec) []Case {
	return []Case{
		{Name: "upscales"},
		{Name: "smallest input", Edit: func(r *easel.EditRequest) { r.Image = Gray(spec.Image.MinSide, spec.Image.MinSide) }},
		{Name: "side too large", Edit: func(r *easel.EditRequest) { r.Image = BombPNG(uint32(spec.Image.MaxSide+1), 32) }, Code: easel.EInvalid, Param: "image"},
	}
}

func controlCases(_ *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{{Name: "follows the image"}}
}

func styleGuideCases(_ *Fixtures, spec *easel.OperationSpec) []Case {
	cs := []Case{{Name: "default aspect ratio"}}
	// The last ratio (the size rule is checked for every ratio in the domain's tests).
	for _, ar := range spec.AspectRatios[len(spec.AspectRatios)-1:] {
		cs = append(cs, Case{Name: "aspect_ratio " + ar, Edit: func(r *easel.EditRequest) { r.AspectRatio = ar }})
	}
	return append(cs, Case{Name: "aspect_ratio 7:3", Edit: func(r *easel.EditRequest) { r.AspectRatio = "7:3" }, Code: easel.EInvalid, Param: "aspect_ratio"})
}

func styleTransferCases(_ *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{
		{Name: "transfers", Check: changesPicture},
		{Name: "with a prompt", Edit: func(r *easel.EditRequest) { r.Prompt = "a statue" }},
		{Name: "style_strength 0 still composes", Edit: func(r *easel.EditRequest) { r.StyleStrength, r.CompositionFidelity = ptr(0.0), ptr(0.5) }},
	}
}

func imageToImageCases(_ *Fixtures, _ *easel.OperationSpec) []Case {
	return []Case{
		{Name: "blends"},
		{Name: "strength 0", Edit: func(r *easel.EditRequest) { r.Strength = ptr(0.0) }},
	}
}
