package solidwebp_test

import (
	"bytes"
	"image/color"
	"testing"

	"golang.org/x/image/webp"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/solidwebp"
)

func TestEncodeDecodes(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		c    color.NRGBA
	}{
		{1, 1, color.NRGBA{1, 2, 3, 255}},
		{640, 480, color.NRGBA{200, 100, 50, 255}},
		{3, 16384, color.NRGBA{0, 0, 0, 0}},
		{333, 77, color.NRGBA{10, 20, 30, 128}},
	} {
		data := solidwebp.Encode(tc.w, tc.h, tc.c)
		img, err := webp.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Encode(%d, %d, %v): webp.Decode: %v", tc.w, tc.h, tc.c, err)
		}
		if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
			t.Errorf("decoded size %v, want %dx%d", b, tc.w, tc.h)
		}
		got := color.NRGBAModel.Convert(img.At(tc.w-1, tc.h-1)).(color.NRGBA)
		if got != tc.c {
			t.Errorf("pixel = %v, want %v", got, tc.c)
		}
		info, err := easel.InspectImage(data)
		if err != nil || info.Width != tc.w || info.Height != tc.h || info.Alpha != (tc.c.A != 255) {
			t.Errorf("InspectImage = %+v, %v", info, err)
		}
	}
}
