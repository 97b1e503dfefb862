package easel_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/easelhq/easel"
)

func ptr[T any](v T) *T { return &v }

// testSpec is a model with a few operations shaped like the Stability image services.
func testSpec() *easel.ModelSpec {
	lim := easel.EditImageLimits()
	prompt := &easel.TextParam{Required: true, MaxLength: 100}
	optional := &easel.TextParam{MaxLength: 100}
	formats := []string{"png", "jpeg"}
	return &easel.ModelSpec{
		ID: "test",
		Operations: map[string]easel.OperationSpec{
			easel.OpInpaint: {
				Image: lim, Mask: easel.MaskOrAlpha, Prompt: prompt, NegativePrompt: optional,
				Numbers: map[string]easel.NumberParam{"grow_mask": {Min: 0, Max: 20, Default: 5, Integer: true}},
				SeedMax: 4294967294, StylePresets: []string{"anime"}, OutputFormats: formats,
				Output: easel.OutputRule{Kind: easel.OutputSame},
			},
			easel.OpErase: {
				Image: lim, Mask: easel.MaskRequired, SeedMax: 10, OutputFormats: formats,
				Output: easel.OutputRule{Kind: easel.OutputSame},
			},
			easel.OpOutpaint: {
				Image: lim, Prompt: optional,
				Numbers: map[string]easel.NumberParam{
					"left": {Max: 2000, Integer: true}, "right": {Max: 2000, Integer: true},
					"up": {Max: 2000, Integer: true}, "down": {Max: 2000, Integer: true},
					"creativity": {Min: 0.1, Max: 1, Default: 0.5},
				},
				AtLeastOneOf: []string{"left", "right", "up", "down"}, OutputFormats: formats,
				Output: easel.OutputRule{Kind: easel.OutputMargins, MaxPixels: 4096 * 4096},
			},
			easel.OpUpscaleFast: {
				Image:         easel.ImageLimits{MinSide: 32, MaxSide: 1536, MinPixels: 1024, MaxPixels: 1 << 20, MaxBytes: easel.MaxEditImageBytes, Formats: []string{"png", "jpeg", "webp"}},
				OutputFormats: formats, Output: easel.OutputRule{Kind: easel.OutputScale, Factor: 4},
			},
			easel.OpStyleGuide: {
				Image: lim, Prompt: prompt, AspectRatios: []string{"1:1", "16:9"}, DefaultAspectRatio: "1:1",
				Numbers:       map[string]easel.NumberParam{"fidelity": {Max: 1, Default: 0.5}},
				OutputFormats: formats, Output: easel.OutputRule{Kind: easel.OutputAspectRatio},
			},
			easel.OpStyleTransfer: {
				Image: lim, StyleImage: &lim, Prompt: optional, OutputFormats: formats,
				Output: easel.OutputRule{Kind: easel.OutputSame},
			},
		},
	}
}

// pngOf returns a w×h PNG; with a hole, its centre is transparent.
func pngOf(t testing.TB, w, h int, hole bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	if hole {
		img.SetNRGBA(w/2, h/2, color.NRGBA{})
	}
	return encodePNG(t, img)
}

func grayPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	return encodePNG(t, image.NewGray(image.Rect(0, 0, w, h)))
}

// checkParam fails unless err is an *easel.Error with the code and param.
func checkParam(t *testing.T, err error, code, param string) {
	t.Helper()
	var e *easel.Error
	if !errors.As(err, &e) || e.Code != code || e.Param != param {
		t.Fatalf("error = %v; want code %s, param %q", err, code, param)
	}
	if e.Message == "" || !strings.HasSuffix(e.Message, ".") {
		t.Errorf("message %q is not a sentence", e.Message)
	}
}

func TestValidateEdit(t *testing.T) {
	spec := testSpec()
	opaque := grayPNG(t, 128, 96)
	holed := pngOf(t, 128, 96, true)
	mask := grayPNG(t, 128, 96)
	tests := []struct {
		name  string
		req   easel.EditRequest
		code  string // "": valid
		param string
	}{
		{"inpaint with mask", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "a cat"}, "", ""},
		{"inpaint from alpha", easel.EditRequest{Operation: "inpaint", Image: holed, Prompt: "a cat"}, "", ""},
		{"no operation", easel.EditRequest{Image: opaque}, easel.EInvalid, "operation"},
		{"unknown operation", easel.EditRequest{Operation: "sharpen", Image: opaque}, easel.EInvalid, "operation"},
		{"operation the model lacks", easel.EditRequest{Operation: "sketch", Image: opaque, Prompt: "x"}, easel.EInvalid, "operation"},
		{"no prompt", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "  "}, easel.EInvalid, "prompt"},
		{"long prompt", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: strings.Repeat("é", 101)}, easel.EInvalid, "prompt"},
		{"long negative", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "x", NegativePrompt: strings.Repeat("n", 101)}, easel.EInvalid, "negative_prompt"},
		{"search prompt not taken", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "x", SearchPrompt: "dog"}, easel.EInvalid, "search_prompt"},
		{"select prompt not taken", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "x", SelectPrompt: "dog"}, easel.EInvalid, "select_prompt"},
		{"grow_mask above", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "x", GrowMask: ptr(21)}, easel.EInvalid, "grow_mask"},
		{"grow_mask below", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "x", GrowMask: ptr(-1)}, easel.EInvalid, "grow_mask"},
		{"number not taken", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "x", Strength: ptr(0.5)}, easel.EInvalid, "strength"},
		{"NaN", easel.EditRequest{Operation: "outpaint", Image: opaque, Left: ptr(10), Creativity: ptr(math.NaN())}, easel.EInvalid, "creativity"},
		{"seed above", easel.EditRequest{Operation: "erase", Image: opaque, Mask: mask, Seed: ptr(uint64(11))}, easel.EInvalid, "seed"},
		{"seed not taken", easel.EditRequest{Operation: "upscale-fast", Image: grayPNG(t, 64, 64), Seed: ptr(uint64(1))}, easel.EInvalid, "seed"},
		{"style preset unknown", easel.EditRequest{Operation: "inpaint", Image: opaque, Mask: mask, Prompt: "x", StylePreset: "oil"}, easel.EInvalid, "style_preset"},
		{"style preset not taken", easel.EditRequest{Operation: "erase", Image: opaque, Mask: mask, StylePreset: "anime"}, easel.EInvalid, "style_preset"},
		{"output format", easel.EditRequest{Operation: "erase", Image: opaque, Mask: mask, OutputFormat: "gif"}, easel.EInvalid, "output_format"},
		{"aspect ratio not taken", easel.EditRequest{Operation: "erase", Image: opaque, Mask: mask, AspectRatio: "1:1"}, easel.EInvalid, "aspect_ratio"},
		{"aspect ratio unknown", easel.EditRequest{Operation: "style-guide", Image: opaque, Prompt: "x", AspectRatio: "2:1"}, easel.EInvalid, "aspect_ratio"},
		{"no image", easel.EditRequest{Operation: "erase", Mask: mask}, easel.EInvalid, "image"},
		{"image not an image", easel.EditRequest{Operation: "erase", Image: []byte("GIF89a..."), Mask: mask}, easel.EUnsupportedMedia, "image"},
		{"image damaged", easel.EditRequest{Operation: "erase", Image: opaque[:20], Mask: mask}, easel.EInvalid, "image"},
		{"image too many bytes", easel.EditRequest{Operation: "erase", Image: append(bytes.Clone(opaque), make([]byte, easel.MaxEditImageBytes)...), Mask: mask}, easel.EPayloadTooLarge, "image"},
		{"image too small", easel.EditRequest{Operation: "erase", Image: grayPNG(t, 63, 100), Mask: grayPNG(t, 63, 100)}, easel.EInvalid, "image"},
		{"image too elongated", easel.EditRequest{Operation: "erase", Image: grayPNG(t, 251, 100), Mask: grayPNG(t, 251, 100)}, easel.EInvalid, "image"},
		{"image elongated at the limit", easel.EditRequest{Operation: "erase", Image: grayPNG(t, 250, 100), Mask: grayPNG(t, 250, 100)}, "", ""},
		{"image too many pixels", easel.EditRequest{Operation: "erase", Image: bombPNG(3073, 3072), Mask: mask}, easel.EInvalid, "image"},
		{"image at the pixel limit", easel.EditRequest{Operation: "erase", Image: bombPNG(3072, 3072), Mask: bombPNG(3072, 3072)}, "", ""},
		{"fast upscale side", easel.EditRequest{Operation: "upscale-fast", Image: grayPNG(t, 1537, 40)}, easel.EInvalid, "image"},
		{"fast upscale small", easel.EditRequest{Operation: "upscale-fast", Image: grayPNG(t, 31, 40)}, easel.EInvalid, "image"},
		{"fast upscale pixels", easel.EditRequest{Operation: "upscale-fast", Image: bombPNG(1025, 1024)}, easel.EInvalid, "image"},
		{"fast upscale 32px", easel.EditRequest{Operation: "upscale-fast", Image: grayPNG(t, 32, 32)}, "", ""},
		{"mask missing", easel.EditRequest{Operation: "erase", Image: opaque}, easel.EInvalid, "mask"},
		{"mask missing, no alpha", easel.EditRequest{Operation: "inpaint", Image: opaque, Prompt: "x"}, easel.EInvalid, "mask"},
		{"mask wrong size", easel.EditRequest{Operation: "erase", Image: opaque, Mask: grayPNG(t, 128, 95)}, easel.EInvalid, "mask"},
		{"mask not an image", easel.EditRequest{Operation: "erase", Image: opaque, Mask: []byte("nope")}, easel.EUnsupportedMedia, "mask"},
		{"mask not taken", easel.EditRequest{Operation: "upscale-fast", Image: grayPNG(t, 64, 64), Mask: grayPNG(t, 64, 64)}, easel.EInvalid, "mask"},
		{"style image missing", easel.EditRequest{Operation: "style-transfer", Image: opaque}, easel.EInvalid, "style_image"},
		{"style image small", easel.EditRequest{Operation: "style-transfer", Image: opaque, StyleImage: grayPNG(t, 10, 10)}, easel.EInvalid, "style_image"},
		{"style image not taken", easel.EditRequest{Operation: "erase", Image: opaque, Mask: mask, StyleImage: opaque}, easel.EInvalid, "style_image"},
		{"inputs too large together", easel.EditRequest{Operation: "style-transfer",
			Image:      append(bytes.Clone(opaque), make([]byte, 9_000_000)...),
			StyleImage: append(bytes.Clone(opaque), make([]byte, 9_000_000)...)}, easel.EPayloadTooLarge, "style_image"},
		{"outpaint no direction", easel.EditRequest{Operation: "outpaint", Image: opaque, Left: ptr(0)}, easel.EInvalid, "left"},
		{"outpaint direction above", easel.EditRequest{Operation: "outpaint", Image: opaque, Up: ptr(2001)}, easel.EInvalid, "up"},
		{"outpaint too large", easel.EditRequest{Operation: "outpaint", Image: bombPNG(3000, 3000), Left: ptr(2000), Up: ptr(2000)}, easel.EInvalid, "left"},
		{"outpaint ok", easel.EditRequest{Operation: "outpaint", Image: opaque, Down: ptr(64)}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := spec.ValidateEdit(&tt.req)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ValidateEdit = %v, want nil", err)
				}
				return
			}
			checkParam(t, err, tt.code, tt.param)
		})
	}
}

func TestValidateEditOnModelWithoutOperations(t *testing.T) {
	spec := &easel.ModelSpec{ID: "plain"}
	checkParam(t, spec.ValidateEdit(&easel.EditRequest{Operation: "inpaint"}), easel.EInvalid, "operation")
}

func TestNormalizeEdit(t *testing.T) {
	spec := testSpec()
	req := easel.EditRequest{Operation: "outpaint", Left: ptr(10)}
	spec.NormalizeEdit(&req)
	if req.Model != "test" || req.OutputFormat != "png" || *req.Left != 10 || *req.Right != 0 || *req.Up != 0 || *req.Down != 0 || *req.Creativity != 0.5 {
		t.Errorf("NormalizeEdit(outpaint) = %+v", req)
	}
	if req.GrowMask != nil || req.Strength != nil || req.Seed != nil {
		t.Errorf("NormalizeEdit set fields outpaint does not take: %+v", req)
	}
	req = easel.EditRequest{Operation: "style-guide", OutputFormat: "jpeg", Fidelity: ptr(0.9)}
	spec.NormalizeEdit(&req)
	if req.AspectRatio != "1:1" || req.OutputFormat != "jpeg" || *req.Fidelity != 0.9 {
		t.Errorf("NormalizeEdit(style-guide) = %+v", req)
	}
}

func TestEditNumbers(t *testing.T) {
	var req easel.EditRequest
	for i, name := range easel.EditNumberFields() {
		if _, given := req.Number(name); given {
			t.Errorf("Number(%q) given on a zero request", name)
		}
		req.SetNumber(name, float64(i)+0.25)
		v, given := req.Number(name)
		want := float64(i) + 0.25
		if i < 5 { // grow_mask, left, right, up, down are integers
			want = math.Round(want)
		}
		if !given || v != want {
			t.Errorf("Number(%q) = %v, %v after SetNumber(%v); want %v", name, v, given, float64(i)+0.25, want)
		}
	}
	req.SetNumber("nothing", 1) // ignored
}

func TestOutputSize(t *testing.T) {
	in := easel.Size{Width: 1000, Height: 500}
	tests := []struct {
		rule easel.OutputRule
		req  easel.EditRequest
		want easel.Size
	}{
		{easel.OutputRule{Kind: easel.OutputSame}, easel.EditRequest{}, in},
		{easel.OutputRule{Kind: easel.OutputMargins}, easel.EditRequest{Left: ptr(10), Right: ptr(20), Down: ptr(5)}, easel.Size{Width: 1030, Height: 505}},
		{easel.OutputRule{Kind: easel.OutputScale, Factor: 4}, easel.EditRequest{}, easel.Size{Width: 4000, Height: 2000}},
		{easel.OutputRule{Kind: easel.OutputScale, Factor: 4, MaxSide: 3000}, easel.EditRequest{}, easel.Size{Width: 3000, Height: 1500}},
		{easel.OutputRule{Kind: easel.OutputScale, Factor: 4, MaxSide: 800}, easel.EditRequest{}, in}, // never smaller
		{easel.OutputRule{Kind: easel.OutputAspectRatio}, easel.EditRequest{AspectRatio: "16:9"}, easel.Size{Width: 1344, Height: 768}},
		{easel.OutputRule{Kind: easel.OutputMegapixel}, easel.EditRequest{}, easel.Size{Width: 1408, Height: 704}},
	}
	for _, tt := range tests {
		if got := tt.rule.Size(in, &tt.req); got != tt.want {
			t.Errorf("%+v.Size(%v) = %v, want %v", tt.rule, in, got, tt.want)
		}
	}
}

// TestMegapixelSize checks the rule against Stability's published sizes.
func TestMegapixelSize(t *testing.T) {
	for ratio, want := range map[string]easel.Size{
		"1:1": {Width: 1024, Height: 1024}, "16:9": {Width: 1344, Height: 768}, "21:9": {Width: 1536, Height: 640},
		"2:3": {Width: 832, Height: 1216}, "3:2": {Width: 1216, Height: 832}, "4:5": {Width: 896, Height: 1088},
		"5:4": {Width: 1088, Height: 896}, "9:16": {Width: 768, Height: 1344}, "9:21": {Width: 640, Height: 1536},
	} {
		w, h, _ := easel.ParseAspectRatio(ratio)
		if got := easel.MegapixelSize(w, h); got != want {
			t.Errorf("MegapixelSize(%s) = %v, want %v", ratio, got, want)
		}
	}
}

func TestOperationNames(t *testing.T) {
	spec := testSpec()
	got := strings.Join(spec.OperationNames(), ",")
	if want := "inpaint,outpaint,erase,upscale-fast,style-guide,style-transfer"; got != want {
		t.Errorf("OperationNames() = %s, want %s", got, want)
	}
	if len(easel.Operations()) != 14 {
		t.Errorf("Operations() has %d names, want 14", len(easel.Operations()))
	}
}
