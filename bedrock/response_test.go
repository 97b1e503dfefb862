package bedrock_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
)

func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	b, err := bedrocktest.NoisyPNG(w, h, 7)
	if err != nil {
		t.Fatalf("NoisyPNG: %v", err)
	}
	return b
}

func TestDecodeResponseShapes(t *testing.T) {
	img := testPNG(t, 40, 30)
	b64 := base64.StdEncoding.EncodeToString(img)
	escaped := strings.ReplaceAll(b64, "/", `\/`)
	tests := []struct {
		name    string
		body    string
		images  int // slots holding an image
		slots   int
		seeds   []uint64
		reasons []string
		errMsg  string
	}{
		{"stability", `{"seeds":[42],"finish_reasons":[null],"images":["` + b64 + `"]}`, 1, 1, []uint64{42}, []string{""}, ""},
		{"stability spaced", "{ \"images\" : [ \"" + b64 + "\" ] ,\n \"seeds\" : [ 7 ], \"finish_reasons\": [ null ] }", 1, 1, []uint64{7}, []string{""}, ""},
		{"stability filtered no image", `{"seeds":[9],"finish_reasons":["Filter reason: output image"]}`, 0, 1, []uint64{9}, []string{"Filter reason: output image"}, ""},
		{"stability prompt filtered", `{"finish_reasons":["Filter reason: prompt"]}`, 0, 1, []uint64{0}, []string{"Filter reason: prompt"}, ""},
		{"amazon two", `{"images":["` + b64 + `","` + b64 + `"],"error":null}`, 2, 2, []uint64{0, 0}, []string{"", ""}, ""},
		{"amazon partial", `{"images":["` + b64 + `"],"error":"1 of 2 generated images blocked"}`, 1, 1, []uint64{0}, []string{""}, "1 of 2 generated images blocked"},
		{"escaped slashes", `{"images":["` + escaped + `"]}`, 1, 1, []uint64{0}, []string{""}, ""},
		{"null images", `{"images":null,"error":"blocked"}`, 0, 0, nil, nil, "blocked"},
		{"unknown fields", `{"x":{"y":[1,"]",{"z":null}]},"images":["` + b64 + `"],"n":-1.5e3,"t":true}`, 1, 1, []uint64{0}, []string{""}, ""},
		{"sdxl", `{"result":"success","artifacts":[{"seed":5,"base64":"` + b64 + `","finishReason":"SUCCESS"},{"seed":6,"base64":"","finishReason":"CONTENT_FILTERED"}]}`, 1, 2, []uint64{5, 6}, []string{"", "CONTENT_FILTERED"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			images, seeds, reasons, errMsg, err := bedrock.DecodeResponse([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeResponse = %v", err)
			}
			got := 0
			for _, im := range images {
				if im != nil {
					got++
					if !bytes.Equal(im, img) {
						t.Errorf("decoded image differs from the original (%d vs %d bytes)", len(im), len(img))
					}
				}
			}
			if got != tt.images || len(images) != tt.slots {
				t.Errorf("images = %d of %d slots, want %d of %d", got, len(images), tt.images, tt.slots)
			}
			if fmt.Sprint(seeds) != fmt.Sprint(tt.seeds) || fmt.Sprint(reasons) != fmt.Sprint(tt.reasons) {
				t.Errorf("seeds, reasons = %v, %q; want %v, %q", seeds, reasons, tt.seeds, tt.reasons)
			}
			if errMsg != tt.errMsg {
				t.Errorf("error = %q, want %q", errMsg, tt.errMsg)
			}
		})
	}
}

func TestDecodeResponseRejectsGarbage(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{"images":["not base64!"]}`, `{"images":["QUJD"`, `{"images":[1]}`,
		`{"seeds":"x","images":[]}`, `{"images":[]} trailing`, `{}`, `{"images":["QUJD"],}`,
	} {
		if _, _, _, _, err := bedrock.DecodeResponse([]byte(body)); err == nil {
			t.Errorf("DecodeResponse(%q) = nil error, want one", body)
		}
	}
}

func TestInspectImage(t *testing.T) {
	png := testPNG(t, 33, 21)
	ct, w, h, err := bedrock.InspectImage(png)
	if err != nil || ct != "image/png" || w != 33 || h != 21 {
		t.Errorf("InspectImage(png) = %q, %d, %d, %v; want image/png, 33, 21, nil", ct, w, h, err)
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("hello, world"),
		"truncated": png[:len(png)/2],
		"bad jpeg":  {0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9},
	} {
		if _, _, _, err := bedrock.InspectImage(data); err == nil {
			t.Errorf("InspectImage(%s) = nil error, want one", name)
		}
	}
}

// TestGarbageImageIsModelError checks that an answer whose image is not a PNG or JPEG
// becomes EModelError, end to end.
func TestGarbageImageIsModelError(t *testing.T) {
	srv, client := newFake(t, bedrocktest.WithFixedImage([]byte("definitely not an image")))
	m := newModel(t, client, "titan", bedrock.Options{})
	_, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a cat", Width: 512, Height: 512})
	if got := easel.ErrorCode(err); got != easel.EModelError {
		t.Errorf("Generate = %v, want code %s", err, easel.EModelError)
	}
	if n := srv.Calls(bedrock.IDTitanImageV2); n != 1 {
		t.Errorf("Calls = %d, want 1 (a broken answer is not retried)", n)
	}
}

// BenchmarkDecodeResponse measures the hot path on a realistic answer: one
// 1024x1024 PNG of about 1.5 MB, base64 in a Stability-shaped JSON body (~2 MB).
func BenchmarkDecodeResponse(b *testing.B) {
	img := testPNG(b, 1024, 1024)
	body, err := json.Marshal(map[string]any{
		"seeds": []uint64{1234}, "finish_reasons": []any{nil},
		"images": []string{base64.StdEncoding.EncodeToString(img)},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("PNG %d bytes, JSON body %d bytes", len(img), len(body))
	work := make([]byte, len(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		copy(work, body) // the decoder works in place; in production the body is the SDK's
		b.StartTimer()
		images, _, _, _, err := bedrock.DecodeResponse(work)
		if err != nil || len(images) != 1 {
			b.Fatalf("DecodeResponse = %d images, %v", len(images), err)
		}
		if _, _, _, err := bedrock.InspectImage(images[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeNaive is the obvious alternative, for comparison: unmarshal into
// strings, then base64-decode each into a new buffer.
func BenchmarkDecodeNaive(b *testing.B) {
	img := testPNG(b, 1024, 1024)
	body, _ := json.Marshal(map[string]any{"seeds": []uint64{1}, "images": []string{base64.StdEncoding.EncodeToString(img)}})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			Seeds         []uint64  `json:"seeds"`
			FinishReasons []*string `json:"finish_reasons"`
			Images        []string  `json:"images"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
		out, err := base64.StdEncoding.DecodeString(v.Images[0])
		if err != nil || !bytes.Equal(out[:8], img[:8]) {
			b.Fatal(err)
		}
	}
}
