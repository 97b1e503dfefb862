package imagecheck_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"sync"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/imagecheck"
	"github.com/easelhq/easel/internal/solidwebp"
)

func encode(t testing.TB, img image.Image, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&b, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func nrgba(w, h int, alpha uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(i), 100, 200, 255
	}
	img.Pix[len(img.Pix)/2+3] = alpha // one pixel in the middle
	return img
}

// bombPNG: a header claiming w×h pixels over a small, hugely compressible IDAT.
func bombPNG(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		out = append(append(out, typ...), data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
	}
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = zw.Write(make([]byte, 4<<20))
	_ = zw.Close()
	out := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr[:])...)
	return append(append(out, chunk("IDAT", z.Bytes())...), chunk("IEND", nil)...)
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		fmt  string
	}{
		{"png", encode(t, nrgba(65, 33, 255), "png"), "png"},
		{"jpeg", encode(t, nrgba(65, 33, 255), "jpeg"), "jpeg"},
		{"webp", solidwebp.Encode(65, 33, color.NRGBA{1, 2, 3, 255}), "webp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, info, err := imagecheck.Decode(tc.data, 65*33)
			if err != nil || info.Format != tc.fmt || img.Bounds().Dx() != 65 || img.Bounds().Dy() != 33 {
				t.Fatalf("Decode = %v, %+v, %v", img.Bounds(), info, err)
			}
			if _, _, err := imagecheck.Decode(tc.data, 65*33-1); !errors.Is(err, imagecheck.ErrTooLarge) {
				t.Errorf("Decode over the limit = %v, want ErrTooLarge", err)
			}
		})
	}
	if _, _, err := imagecheck.Decode([]byte("GIF89a"), 100); !errors.Is(err, easel.ErrUnknownFormat) {
		t.Errorf("Decode(gif) = %v, want ErrUnknownFormat", err)
	}
	good := encode(t, nrgba(65, 33, 255), "png")
	if _, _, err := imagecheck.Decode(good[:len(good)-30], 1<<20); err == nil {
		t.Error("Decode(truncated png) = nil error")
	}
}

// TestDecodeBomb: a header claiming 100,000 × 100,000 pixels is refused before any
// decoding: no allocation near its claimed 40 GB.
func TestDecodeBomb(t *testing.T) {
	bomb := bombPNG(100_000, 100_000)
	if _, _, err := imagecheck.Decode(bomb, easel.EditMaxPixels); !errors.Is(err, imagecheck.ErrTooLarge) {
		t.Fatalf("Decode(bomb) = %v, want ErrTooLarge", err)
	}
	if _, err := imagecheck.Transparent(bomb, easel.EditMaxPixels); !errors.Is(err, imagecheck.ErrTooLarge) {
		t.Fatalf("Transparent(bomb) = %v, want ErrTooLarge", err)
	}
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _, _ = imagecheck.Decode(bomb, easel.EditMaxPixels)
		}
	})
	if perOp := res.AllocedBytesPerOp(); perOp > 4096 {
		t.Errorf("Decode(bomb) allocates %d bytes per call; want only the header's", perOp)
	}
}

func TestTransparent(t *testing.T) {
	opaqueRGBA := encode(t, nrgba(64, 64, 255), "png")
	holed := encode(t, nrgba(64, 64, 0), "png")
	half := encode(t, nrgba(64, 64, 128), "png")
	gray := encode(t, image.NewGray(image.Rect(0, 0, 64, 64)), "png")
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"png with a transparent pixel", holed, true},
		{"png with a half-transparent pixel", half, true},
		{"png with alpha, all opaque", opaqueRGBA, false},
		{"png without alpha", gray, false},
		{"jpeg", encode(t, nrgba(64, 64, 0), "jpeg"), false},
		{"webp transparent", solidwebp.Encode(64, 64, color.NRGBA{0, 0, 0, 0}), true},
		{"webp opaque", solidwebp.Encode(64, 64, color.NRGBA{9, 9, 9, 255}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := imagecheck.Transparent(tc.data, 1<<20)
			if err != nil || got != tc.want {
				t.Errorf("Transparent = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// photo9MP is a 3072×3072 (9,437,184-pixel) photographic-like image: a gradient with
// noise that does not compress, the worst case of an accepted input.
var photo9MP = sync.OnceValue(func() *image.NRGBA {
	const side = 3072
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < len(img.Pix); i += 4 {
		p := i / 4
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		img.Pix[i] = uint8(p%side*200/side) + uint8(x&15)
		img.Pix[i+1] = uint8(p/side*200/side) + uint8(x>>8&7)
		img.Pix[i+2] = uint8(x>>16&3) + 60
		img.Pix[i+3] = 255
	}
	return img
})

// BenchmarkDecode9MP measures what a 9.4 MP input costs: its bytes (reported as
// input-bytes), header inspection and a full decode (only offline edits and the
// transparency check decode).
func BenchmarkDecode9MP(b *testing.B) {
	for _, format := range []string{"png", "jpeg"} {
		data := encode(b, photo9MP(), format)
		b.Run(format+"/inspect", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := easel.InspectImage(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "input-bytes")
		})
		b.Run(format+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := imagecheck.Decode(data, easel.EditMaxPixels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "input-bytes")
		})
	}
	// The worst case of the transparency check: an alpha channel whose only
	// transparent pixel is the last one.
	img := photo9MP()
	last := *img
	last.Pix = bytes.Clone(img.Pix)
	last.Pix[len(last.Pix)-1] = 254
	data := encode(b, &last, "png")
	b.Run("png/transparent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := imagecheck.Transparent(data, easel.EditMaxPixels); err != nil {
				b.Fatal(err)
			}
		}
	})
}
