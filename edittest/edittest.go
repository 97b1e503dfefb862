// Package edittest is the conformance suite of the easel.Editor port: one
// table-driven test per edit operation, with the good requests each operation must
// serve and the bad ones it must refuse, naming the field at fault, before any model
// is called. Every Editor adapter runs it (offline directly; bedrock against its wire
// fake), so that they agree on what a request means.
package edittest

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/imagecheck"
)

// Harness is what the suite needs of one editor.
type Harness struct {
	Editor easel.Editor
	// Calls returns how many model calls have been made so far (for a real model, an
	// upper bound of what was billed); nil when the editor makes none. Bad requests
	// must not change it.
	Calls func() int
}

// Run runs the test of every operation in ops, which the editor's spec must declare
// (and no other). newHarness is called once per operation.
func Run(t *testing.T, ops []string, newHarness func(t *testing.T) Harness) {
	t.Helper()
	h := newHarness(t)
	spec := h.Editor.Spec()
	if got := spec.OperationNames(); !slices.Equal(got, ops) {
		t.Fatalf("Spec().Operations = %v, want %v", got, ops)
	}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			runOperation(t, op, newHarness(t))
		})
	}
}

// Case is one request of an operation's table: good (Code "") or bad.
type Case struct {
	Name string
	// Edit changes the operation's good base request.
	Edit func(r *easel.EditRequest)
	// Code and Param are the error the request must get; Code "": it must succeed.
	Code, Param string
	// Check, for good cases, looks further at the result.
	Check func(t *testing.T, f *Fixtures, r *easel.EditRequest, img easel.GeneratedImage, decoded image.Image)
}

// tables holds each operation's own cases; the suite adds the cases every operation
// shares (see commonCases).
var tables = map[string]func(f *Fixtures, op *easel.OperationSpec) []Case{
	easel.OpInpaint:             inpaintCases,
	easel.OpOutpaint:            outpaintCases,
	easel.OpErase:               eraseCases,
	easel.OpRemoveBackground:    removeBackgroundCases,
	easel.OpSearchReplace:       searchReplaceCases,
	easel.OpSearchRecolor:       searchRecolorCases,
	easel.OpUpscaleCreative:     upscaleCases,
	easel.OpUpscaleConservative: upscaleCases,
	easel.OpUpscaleFast:         upscaleFastCases,
	easel.OpSketch:              controlCases,
	easel.OpStructure:           controlCases,
	easel.OpStyleGuide:          styleGuideCases,
	easel.OpStyleTransfer:       styleTransferCases,
	easel.OpImageToImage:        imageToImageCases,
}

func runOperation(t *testing.T, op string, h Harness) {
	spec := h.Editor.Spec()
	opSpec, ok := spec.Operation(op)
	if !ok {
		t.Fatalf("Spec() does not declare %s", op)
	}
	f := NewFixtures(t)
	cases := append(tables[op](f, opSpec), commonCases(f, op, opSpec)...)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			req := f.Base(op, opSpec)
			if c.Edit != nil {
				c.Edit(req)
			}
			before := calls(h)
			if c.Code != "" {
				checkError(t, "ValidateEdit", spec.ValidateEdit(req), c.Code, c.Param)
				g, err := h.Editor.Edit(t.Context(), req)
				if err == nil {
					t.Fatalf("Edit = %d images, nil error; want %s (%s)", len(g.Images), c.Code, c.Param)
				}
				checkError(t, "Edit", err, c.Code, c.Param)
				if after := calls(h); after != before {
					t.Errorf("a refused request made %d model calls; want none", after-before)
				}
				return
			}
			if err := spec.ValidateEdit(req); err != nil {
				t.Fatalf("ValidateEdit = %v", err)
			}
			norm := *req
			spec.NormalizeEdit(&norm)
			g, err := h.Editor.Edit(t.Context(), &norm)
			if err != nil {
				t.Fatalf("Edit = %v", err)
			}
			if h.Calls != nil && calls(h) != before+1 {
				t.Errorf("Edit made %d model calls, want 1", calls(h)-before)
			}
			checkResult(t, f, opSpec, &norm, g, c.Check)
		})
	}
}

func calls(h Harness) int {
	if h.Calls == nil {
		return 0
	}
	return h.Calls()
}

func checkError(t *testing.T, what string, err error, code, param string) {
	t.Helper()
	var e *easel.Error
	if !errors.As(err, &e) || e.Code != code || e.Param != param {
		t.Fatalf("%s = %v; want code %s, param %q", what, err, code, param)
	}
	if !strings.HasSuffix(e.Message, ".") {
		t.Errorf("%s message %q is not a sentence", what, e.Message)
	}
}

// checkResult checks what every good edit must return: one image of the requested
// format, at the size the operation's rule gives, that decodes and is not the input.
func checkResult(t *testing.T, f *Fixtures, op *easel.OperationSpec, r *easel.EditRequest, g *easel.Generation, check func(*testing.T, *Fixtures, *easel.EditRequest, easel.GeneratedImage, image.Image)) {
	t.Helper()
	if len(g.Images) != 1 || g.Filtered != 0 {
		t.Fatalf("Edit = %d images, %d filtered; want 1, 0", len(g.Images), g.Filtered)
	}
	img := g.Images[0]
	in, err := easel.InspectImage(r.Image)
	if err != nil {
		t.Fatalf("InspectImage(input) = %v", err)
	}
	want := op.OutputSize(easel.Size{Width: in.Width, Height: in.Height}, r)
	if img.Width != want.Width || img.Height != want.Height {
		t.Errorf("image is %dx%d, want %dx%d (%s rule)", img.Width, img.Height, want.Width, want.Height, op.Output.Kind)
	}
	if wantCT := "image/" + r.OutputFormat; img.ContentType != wantCT {
		t.Errorf("content type %q, want %q", img.ContentType, wantCT)
	}
	decoded, info, err := imagecheck.Decode(img.Data, want.Width*want.Height)
	if err != nil {
		t.Fatalf("the result does not decode: %v", err)
	}
	if info.Width != img.Width || info.Height != img.Height || info.ContentType() != img.ContentType {
		t.Errorf("the result's header says %+v; Edit reported %s %dx%d", info, img.ContentType, img.Width, img.Height)
	}
	if bytes.Equal(img.Data, r.Image) {
		t.Error("the result is the input's bytes")
	}
	if check != nil {
		check(t, f, r, img, decoded)
	}
}

// Fixtures are the suite's input images, drawn in code: a 128×96 picture of a red
// disc on a light blue background, its mask (a white rectangle over the disc), the
// same picture with that rectangle transparent, and a 96×128 style image of orange
// and purple stripes.
type Fixtures struct {
	Source      []byte
	Mask        []byte
	Holed       []byte
	Style       []byte
	W, H        int
	SourcePixel func(x, y int) color.NRGBA
}

// Geometry of the fixtures.
const (
	fw, fh         = 128, 96
	discX, discY   = 64, 44
	discR          = 22
	maskX0, maskY0 = 40, 20
	maskX1, maskY1 = 88, 68
)

// NewFixtures draws the fixtures.
func NewFixtures(t testing.TB) *Fixtures {
	t.Helper()
	pixel := func(x, y int) color.NRGBA {
		dx, dy := x-discX, y-discY
		switch {
		case dx*dx+dy*dy <= discR*discR:
			return color.NRGBA{220, 30, 40, 255}
		default:
			return color.NRGBA{150, 200, 240, 255}
		}
	}
	src := image.NewNRGBA(image.Rect(0, 0, fw, fh))
	holed := image.NewNRGBA(image.Rect(0, 0, fw, fh))
	mask := image.NewGray(image.Rect(0, 0, fw, fh))
	for y := range fh {
		for x := range fw {
			c := pixel(x, y)
			src.SetNRGBA(x, y, c)
			inside := x >= maskX0 && x < maskX1 && y >= maskY0 && y < maskY1
			if inside {
				mask.SetGray(x, y, color.Gray{255})
				c.A = 0
			}
			holed.SetNRGBA(x, y, c)
		}
	}
	style := image.NewNRGBA(image.Rect(0, 0, 96, 128))
	for y := range 128 {
		for x := range 96 {
			c := color.NRGBA{250, 140, 20, 255}
			if (y/16)%2 == 1 {
				c = color.NRGBA{90, 30, 140, 255}
			}
			style.SetNRGBA(x, y, c)
		}
	}
	return &Fixtures{
		Source: EncodePNG(t, src), Mask: EncodePNG(t, mask), Holed: EncodePNG(t, holed),
		Style: EncodePNG(t, style), W: fw, H: fh, SourcePixel: pixel,
	}
}

// EncodePNG encodes img as PNG.
func EncodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatalf("png.Encode: %v", err)
	}
	return b.Bytes()
}

// Gray returns a w×h greyscale PNG (a ramp).
func Gray(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding to memory does not fail
	}
	return b.Bytes()
}

// Base is the good request of an operation that its table's cases start from.
func (f *Fixtures) Base(op string, spec *easel.OperationSpec) *easel.EditRequest {
	r := &easel.EditRequest{Operation: op, Image: f.Source}
	if spec.SeedMax > 0 {
		seed := uint64(42)
		r.Seed = &seed
	}
	switch op {
	case easel.OpInpaint:
		r.Mask, r.Prompt = f.Mask, "a green hill under a yellow sun"
	case easel.OpOutpaint:
		r.Left, r.Down = ptr(32), ptr(16)
	case easel.OpErase:
		r.Mask = f.Mask
	case easel.OpSearchReplace:
		r.Prompt, r.SearchPrompt = "a yellow sun", "red ball"
	case easel.OpSearchRecolor:
		r.Prompt, r.SelectPrompt = "green", "red ball"
	case easel.OpUpscaleCreative, easel.OpUpscaleConservative, easel.OpSketch, easel.OpStructure:
		r.Prompt = "a red ball in the sky"
	case easel.OpStyleGuide:
		r.Image, r.Prompt = f.Style, "a lighthouse on a cliff"
	case easel.OpStyleTransfer:
		r.StyleImage = f.Style
	case easel.OpImageToImage:
		r.Prompt, r.Strength = "a desert at sunset", ptr(0.6)
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// Cases returns an operation's table: its own cases and those every operation shares,
// for suites that drive the operation through another layer (the HTTP API). Each
// case's request is f.Base(op, spec) changed by its Edit.
func Cases(f *Fixtures, op string, spec *easel.OperationSpec) []Case {
	return append(tables[op](f, spec), commonCases(f, op, spec)...)
}
