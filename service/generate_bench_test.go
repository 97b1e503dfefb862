//go:build unix

package service_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/bench"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/service"
)

// benchModel is a zero-latency model answering every call with one realistic image:
// a 1024×1024 noisy PNG of about 1.5 MB, the size of a real model's output.
//
// Each image it hands over is a fresh copy, as the Bedrock adapter's are (they are
// subslices of the HTTP answer it just read), so the benchmark pays for one 1.5 MB
// allocation per image that the adapter pays for too. With spareCap the copy has room
// after it for the PNG text chunk, which shows what pngtext.Insert saves when the
// adapter leaves it that room.
type benchModel struct {
	png      []byte
	spareCap bool
}

func (m *benchModel) Spec() easel.ModelSpec {
	return easel.ModelSpec{
		ID: "bench", Provider: "test", MaxPromptLength: 1000, NegativePrompt: true,
		SizeRange: &easel.SizeRange{Min: 64, Max: 2048, Step: 64}, DefaultSize: easel.Size{Width: 1024, Height: 1024},
		MaxImages: 4, SeedMax: 4294967295, OutputFormats: []string{"png"},
	}
}

func (m *benchModel) Generate(_ context.Context, req *easel.GenerateRequest) (*easel.Generation, error) {
	g := &easel.Generation{Images: make([]easel.GeneratedImage, 0, req.N)}
	for i := range req.N {
		var data []byte
		if m.spareCap {
			data = make([]byte, len(m.png), len(m.png)+4096)
		} else {
			data = make([]byte, len(m.png))
		}
		copy(data, m.png)
		g.Images = append(g.Images, easel.GeneratedImage{
			Data: data, ContentType: "image/png", Seed: *req.Seed + uint64(i), Width: 1024, Height: 1024,
		})
	}
	return g, nil
}

// benchService returns a Service over the local stores (SQLite and a folder, in
// b.TempDir) with no limits, no thumbnails and the model m.
func benchService(b *testing.B, m easel.Model) *service.Service {
	b.Helper()
	st, fs, _ := localtest.Stores(b, "http://127.0.0.1/images/")
	limits := service.DefaultLimits()
	limits.UserRate, limits.UserConcurrency, limits.MaxInflight = 0, 0, 0
	svc, err := service.New(service.Config{Models: []easel.Model{m}, Catalog: st, Blobs: fs, Limits: limits})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close(context.Background()) })
	return svc
}

func benchPNG(b *testing.B) []byte {
	b.Helper()
	img, err := bedrocktest.NoisyPNG(1024, 1024, 1)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

func benchRequest(i int64, n int) *easel.GenerateRequest {
	seed := uint64(i)
	return &easel.GenerateRequest{
		Prompt: "a lighthouse on a cliff at dusk, oil on canvas, variation " + strconv.FormatInt(i, 10),
		N:      n, Seed: &seed,
	}
}

// BenchmarkGenerate measures service.Generate with a zero-latency model and the local
// stores: per image a DecodeConfig, the PNG text chunk, SHA-256, a pending SQLite
// record, an fsynced file, the record marked ready. It reports images/s, process CPU
// per image and heap bytes allocated per image (B/op is per call: n images).
func BenchmarkGenerate(b *testing.B) {
	png := benchPNG(b)
	for _, c := range []struct {
		name     string
		n        int
		spareCap bool
	}{
		{"n=1", 1, false},
		{"n=1/spare-cap", 1, true},
		{"n=4", 4, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			svc := benchService(b, &benchModel{png: png, spareCap: c.spareCap})
			p := &service.Principal{UserID: "bench"}
			ctx := context.Background()
			b.SetBytes(int64(len(png)) * int64(c.n))
			b.ReportAllocs()
			var i int64
			m := bench.StartMeter()
			for b.Loop() {
				i++
				res, err := svc.Generate(ctx, p, benchRequest(i, c.n), "")
				if err != nil {
					b.Fatalf("Generate = %v", err)
				}
				if len(res.Images) != c.n {
					b.Fatalf("Generate made %d images, want %d", len(res.Images), c.n)
				}
			}
			m.Report(b, int(i)*c.n)
		})
	}
}

// BenchmarkGenerateParallel is BenchmarkGenerate/n=1 with concurrent callers
// (4×GOMAXPROCS goroutines), as a server under load runs it.
func BenchmarkGenerateParallel(b *testing.B) {
	png := benchPNG(b)
	b.Run("n=1", func(b *testing.B) {
		svc := benchService(b, &benchModel{png: png})
		p := &service.Principal{UserID: "bench"}
		var next atomic.Int64
		b.SetBytes(int64(len(png)))
		b.ReportAllocs()
		b.SetParallelism(4)
		m := bench.StartMeter()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, err := svc.Generate(ctx, p, benchRequest(next.Add(1), 1), ""); err != nil {
					b.Errorf("Generate = %v", err)
					return
				}
			}
		})
		m.Report(b, int(next.Load()))
	})
}
