package offline_test

import (
	"testing"

	"github.com/easelhq/easel/offline"
)

// benchPrompts cover the kinds of picture: the costliest (mountains over a lake, the
// retro grid) and the cheap ones.
var benchPrompts = []struct{ name, prompt string }{
	{"mountains", "snowy mountains at sunset over a calm lake"},
	{"forest", "a pine forest in the hills"},
	{"sea", "ocean waves at night under the moon"},
	{"dunes", "desert dunes"},
	{"city", "city skyline at night"},
	{"retro", "retro synthwave"},
	{"space", "space planet"},
	{"poster", "geometric circles pattern"},
}

// BenchmarkRender1024 measures drawing and PNG-encoding one 1024×1024 picture. Besides
// ns/op (wall clock) it reports cpu-ns/op, the CPU time used, which a busy machine
// does not inflate.
func BenchmarkRender1024(b *testing.B) {
	for _, bp := range benchPrompts {
		b.Run(bp.name, func(b *testing.B) { benchRender(b, bp.prompt, 1024, 1024, "png") })
	}
}

// BenchmarkRender1024JPEG measures the same with JPEG encoding.
func BenchmarkRender1024JPEG(b *testing.B) {
	benchRender(b, benchPrompts[0].prompt, 1024, 1024, "jpeg")
}

// BenchmarkRender2048 measures the largest picture Generate draws.
func BenchmarkRender2048(b *testing.B) {
	benchRender(b, benchPrompts[0].prompt, 2048, 2048, "png")
}

func benchRender(b *testing.B, prompt string, w, h int, format string) {
	b.ReportAllocs()
	start := cpuTime()
	size := 0
	for b.Loop() {
		data, err := offline.Render(prompt, "", 42, w, h, format)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	if used := cpuTime() - start; used > 0 {
		b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
	}
	b.ReportMetric(float64(size), "bytes")
}
