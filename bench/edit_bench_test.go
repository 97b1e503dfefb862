//go:build unix

package bench_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bench"
	"github.com/easelhq/easel/httpapi"
	"github.com/easelhq/easel/imagecheck"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/service"
)

// The edit figures of docs/edits.md: what a 9.4 MP input costs Easel itself, from the
// request's bytes to the stored result. 3072×3072 is 9,437,184 pixels, the largest
// input the Stability image services take.
const side9MP = 3072

// noise is the per-pixel noise of photo9MP, chosen so the JPEG is near the 10 MiB an
// input may hold: the heaviest input an edit takes.
const noise = 110

// photo9MP is a 3072×3072 picture with a photograph's texture (gradients under
// per-pixel noise), as JPEG at quality 95 (near the 10 MiB limit) or as
// an RGBA PNG with a transparent area (what an inpaint without a mask decodes).
func photo9MP(tb testing.TB, format string) []byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	img := image.NewNRGBA(image.Rect(0, 0, side9MP, side9MP))
	for y := range side9MP {
		for x := range side9MP {
			n := uint8(r.IntN(noise))
			c := color.NRGBA{uint8(x/13) + n, uint8(y/13) + n, uint8((x+y)/26) + n, 255}
			if format == "png" && x > 1000 && x < 2000 && y > 1000 && y < 2000 {
				c.A = 0
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// stubEditor is a zero-latency editor (a stub, not a model): it performs
// remove-background by answering a fresh copy of the input, an answer as large as a
// real one, so the benchmark measures Easel's own work around a model call.
type stubEditor struct{}

func (stubEditor) Spec() easel.ModelSpec {
	return easel.ModelSpec{ID: "stub-editor", Provider: "test", EditOnly: true, OutputFormats: []string{"png"},
		Operations: map[string]easel.OperationSpec{easel.OpRemoveBackground: {
			Image: easel.EditImageLimits(), OutputFormats: []string{"png", "webp"}, Output: easel.OutputRule{Kind: easel.OutputSame},
		}}}
}

func (stubEditor) Generate(context.Context, *easel.GenerateRequest) (*easel.Generation, error) {
	return nil, easel.ParamErrorf("model", "stub-editor only edits")
}

func (stubEditor) Edit(_ context.Context, req *easel.EditRequest) (*easel.Generation, error) {
	info, err := easel.InspectImage(req.Image)
	if err != nil {
		return nil, err
	}
	return &easel.Generation{Images: []easel.GeneratedImage{{Data: bytes.Clone(req.Image), ContentType: "image/" + info.Format,
		Width: info.Width, Height: info.Height}}}, nil
}

// editServer is the HTTP API over local stores with the stub editor beside the offline
// model's place, at most maxEdits edits at once.
func editServer(b *testing.B, maxEdits int) (url, key string) {
	b.Helper()
	st, fs, _ := localtest.Stores(b, "http://127.0.0.1/images/")
	limits := service.DefaultLimits()
	limits.UserRate, limits.UserConcurrency, limits.MaxInflight, limits.MaxImagesInMemory = 0, 0, 0, 0
	limits.MaxConcurrentEdits = maxEdits
	svc, err := service.New(service.Config{Models: []easel.Model{stubEditor{}}, Catalog: st, Blobs: fs, Limits: limits})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close(context.Background()) })
	_, key, err = service.CreateKey(context.Background(), st, "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Service: svc, Blobs: fs}))
	b.Cleanup(srv.Close)
	return srv.URL, key
}

func editJSON(data []byte) []byte {
	body, _ := json.Marshal(map[string]any{"operation": "remove-background",
		"image": map[string]string{"b64": base64.StdEncoding.EncodeToString(data)}})
	return body
}

// BenchmarkEditInput9MP: the request bytes of a 9.4 MP edit (JSON with the image in
// base64) and what reading it costs: the body's decode (JSON and base64), the header
// check every input gets (easel.InspectImage: format, size, no pixel decoded), and the
// full decode an inpaint without a mask needs to find transparent pixels.
func BenchmarkEditInput9MP(b *testing.B) {
	jpg, pngAlpha := photo9MP(b, "jpeg"), photo9MP(b, "png")
	body := editJSON(jpg)
	b.Run("decode-body", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var v struct {
				Operation string
				Image     struct{ B64 string }
			}
			if err := json.Unmarshal(body, &v); err != nil {
				b.Fatal(err)
			}
			if _, err := base64.StdEncoding.DecodeString(v.Image.B64); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(jpg)), "image-bytes")
		b.ReportMetric(float64(len(body)), "request-bytes")
	})
	b.Run("inspect-header", func(b *testing.B) {
		for b.Loop() {
			if _, err := easel.InspectImage(jpg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transparent-png", func(b *testing.B) {
		for b.Loop() {
			if ok, err := imagecheck.Transparent(pngAlpha, easel.EditMaxPixels); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(len(pngAlpha)), "image-bytes")
	})
	b.Run("bomb-header", func(b *testing.B) {
		// A 100,000×100,000 PNG header: refused before a pixel is decoded.
		bomb := bombPNG()
		for b.Loop() {
			if _, _, err := imagecheck.Decode(bomb, easel.EditMaxPixels); err == nil {
				b.Fatal("decoded a bomb")
			}
		}
	})
}

func bombPNG() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	data := b.Bytes()
	// IHDR's width and height (bytes 16..23), and its CRC is not checked by the header read.
	copy(data[16:], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	return data
}

// BenchmarkEditConcurrent9MP: 16 callers at once, each POSTing a 9.4 MP edit (JSON,
// base64) through the whole HTTP path to a stored result, with --max-concurrent-edits 4
// (the default) and 16; MB-heap-peak is the heap's largest size during the run,
// garbage included.
func BenchmarkEditConcurrent9MP(b *testing.B) {
	body := editJSON(photo9MP(b, "jpeg"))
	for _, limit := range []int{4, 16} {
		b.Run(fmt.Sprintf("c16-limit%d", limit), func(b *testing.B) {
			url, key := editServer(b, limit)
			post := func() error {
				req, _ := http.NewRequest(http.MethodPost, url+"/v1/edits", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					return fmt.Errorf("POST /v1/edits = %d", resp.StatusCode)
				}
				return nil
			}
			if err := post(); err != nil { // warm-up: the catalog's first writes
				b.Fatal(err)
			}
			heap := bench.WatchHeap()
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make(chan error, 16)
				for range 16 {
					wg.Go(func() {
						if err := post(); err != nil {
							errs <- err
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
			b.ReportMetric(heap(), "MB-heap-peak")
			b.ReportMetric(float64(len(body)), "request-bytes")
		})
	}
}
