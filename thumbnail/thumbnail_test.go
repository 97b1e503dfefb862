package thumbnail_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/easelhq/easel/thumbnail"
)

func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMake(t *testing.T) {
	for _, tc := range []struct{ w, h, tw, th int }{
		{1024, 1024, 256, 256},
		{1024, 512, 256, 128},
		{320, 1280, 64, 256},
		{200, 100, 200, 100},
	} {
		out, err := thumbnail.Make(encodePNG(t, tc.w, tc.h))
		if err != nil {
			t.Fatalf("Make(%dx%d) error: %v", tc.w, tc.h, err)
		}
		img, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Make(%dx%d) is not a JPEG: %v", tc.w, tc.h, err)
		}
		if b := img.Bounds(); b.Dx() != tc.tw || b.Dy() != tc.th {
			t.Errorf("Make(%dx%d) = %dx%d, want %dx%d", tc.w, tc.h, b.Dx(), b.Dy(), tc.tw, tc.th)
		}
	}
}

func TestMakeRejects(t *testing.T) {
	if _, err := thumbnail.Make([]byte("not an image")); err == nil {
		t.Error("Make(garbage) error = nil, want an error")
	}
}

func BenchmarkMake1024(b *testing.B) {
	src := encodePNG(b, 1024, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := thumbnail.Make(src); err != nil {
			b.Fatal(err)
		}
	}
}
