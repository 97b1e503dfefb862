package offline_test

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/edittest"
	"github.com/easelhq/easel/offline"
)

// megapixelInputs are a 1024×1024 offline landscape, a mask over its middle, and a
// style picture: the inputs of the 1 MP edit benchmarks.
func megapixelInputs(b testing.TB) (src, mask, style []byte) {
	src = render(b, "snowy mountains above a lake at dusk", "", 7, 1024, 1024, "png")
	style = render(b, "pastel desert dunes", "", 9, 768, 1024, "png")
	m := image.NewGray(image.Rect(0, 0, 1024, 1024))
	for y := 300; y < 700; y++ {
		for x := 350; x < 650; x++ {
			m.SetGray(x, y, color.Gray{255})
		}
	}
	return src, edittest.EncodePNG(b, m), style
}

// megapixelRequest is the benchmark request of an operation.
func megapixelRequest(op string, spec *easel.OperationSpec, src, mask, style []byte) *easel.EditRequest {
	seed := uint64(3)
	r := &easel.EditRequest{Operation: op, Image: src, Prompt: "a green forest", Seed: &seed}
	if spec.SeedMax == 0 {
		r.Seed = nil
	}
	if spec.Prompt == nil {
		r.Prompt = ""
	}
	switch op {
	case easel.OpInpaint, easel.OpErase:
		r.Mask = mask
	case easel.OpOutpaint:
		left, up := 256, 128
		r.Left, r.Up = &left, &up
	case easel.OpSearchReplace:
		r.SearchPrompt = "sky"
	case easel.OpSearchRecolor:
		r.SelectPrompt, r.Prompt = "mountains", "red"
	case easel.OpStyleTransfer:
		r.StyleImage = style
	case easel.OpStyleGuide:
		r.Image = style
	}
	return r
}

// BenchmarkEdit measures each offline operation on a 1024×1024 input, decode and
// encode included. cpu-ns/op is the CPU time used (all cores), which a busy machine
// does not inflate.
func BenchmarkEdit(b *testing.B) {
	g := offline.New()
	spec := g.Spec()
	src, mask, style := megapixelInputs(b)
	for _, name := range spec.OperationNames() {
		op, _ := spec.Operation(name)
		req := megapixelRequest(name, op, src, mask, style)
		spec.NormalizeEdit(req)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := g.Edit(b.Context(), req); err != nil {
					b.Fatal(err)
				}
			}
			if used := cpuTime() - start; used > 0 {
				b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// TestEditGallery writes each operation's result on a real scene to
// $EASEL_EDIT_GALLERY, for looking at them (skipped when unset).
func TestEditGallery(t *testing.T) {
	dir := os.Getenv("EASEL_EDIT_GALLERY")
	if dir == "" {
		t.Skip("set EASEL_EDIT_GALLERY to a folder to write the gallery")
	}
	g := offline.New()
	spec := g.Spec()
	src, mask, style := megapixelInputs(t)
	_ = os.WriteFile(filepath.Join(dir, "source.png"), src, 0o644)
	_ = os.WriteFile(filepath.Join(dir, "style.png"), style, 0o644)
	for _, name := range spec.OperationNames() {
		op, _ := spec.Operation(name)
		req := megapixelRequest(name, op, src, mask, style)
		spec.NormalizeEdit(req)
		gen, err := g.Edit(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), gen.Images[0].Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkEditRoundTrip measures what every 1 MP edit pays besides its own work:
// decoding the input and encoding a result of the same size.
func BenchmarkEditRoundTrip(b *testing.B) {
	src, _, _ := megapixelInputs(b)
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := offline.RoundTripForTest(src); err != nil {
			b.Fatal(err)
		}
	}
	if used := cpuTime() - start; used > 0 {
		b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
	}
}
