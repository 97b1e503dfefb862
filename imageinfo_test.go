package easel_test

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
	"testing"

	"github.com/easelhq/easel"
)

// encodePNG encodes img, failing the test on error.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatalf("png.Encode: %v", err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatalf("jpeg.Encode: %v", err)
	}
	return b.Bytes()
}

// pngChunk returns one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// bombPNG is a decompression bomb: a header claiming w×h RGBA pixels and an IDAT of a
// few kilobytes that would inflate to w×h×4 bytes of zeros (here only its first
// megabyte is compressed: enough to make any decoder start allocating).
func bombPNG(w, h uint32) []byte {
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr[:])...)
	out = append(out, pngChunk("IDAT", z.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// webpFile wraps one chunk in a RIFF WEBP container.
func webpFile(chunk string, body []byte) []byte {
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(4+8+len(body)))
	out = append(out, "WEBP"...)
	out = append(out, chunk...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...)
}

func vp8Header(w, h int) []byte {
	b := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}
	b = binary.LittleEndian.AppendUint16(b, uint16(w))
	b = binary.LittleEndian.AppendUint16(b, uint16(h))
	return append(b, make([]byte, 8)...)
}

func vp8lHeader(w, h int, alpha bool) []byte {
	bits := uint32(w-1) | uint32(h-1)<<14
	if alpha {
		bits |= 1 << 28
	}
	return append(binary.LittleEndian.AppendUint32([]byte{0x2f}, bits), 0, 0, 0)
}

func vp8xHeader(w, h int, flags byte) []byte {
	b := []byte{flags, 0, 0, 0}
	b = append(b, byte(w-1), byte((w-1)>>8), byte((w-1)>>16))
	return append(b, byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
}

func TestInspectImage(t *testing.T) {
	rgba := image.NewNRGBA(image.Rect(0, 0, 70, 40))
	gray := image.NewGray(image.Rect(0, 0, 300, 200))
	pal := image.NewPaletted(image.Rect(0, 0, 64, 64), color.Palette{color.NRGBA{0, 0, 0, 0}, color.White})
	opaquePal := image.NewPaletted(image.Rect(0, 0, 64, 64), color.Palette{color.Black, color.White})
	tests := []struct {
		name string
		data []byte
		want easel.ImageInfo
	}{
		{"png rgba", encodePNG(t, rgba), easel.ImageInfo{Format: "png", Width: 70, Height: 40, Alpha: true}},
		{"png gray", encodePNG(t, gray), easel.ImageInfo{Format: "png", Width: 300, Height: 200}},
		{"png palette with tRNS", encodePNG(t, pal), easel.ImageInfo{Format: "png", Width: 64, Height: 64, Alpha: true}},
		{"png opaque palette", encodePNG(t, opaquePal), easel.ImageInfo{Format: "png", Width: 64, Height: 64}},
		{"jpeg", encodeJPEG(t, gray), easel.ImageInfo{Format: "jpeg", Width: 300, Height: 200}},
		{"webp lossy", webpFile("VP8 ", vp8Header(640, 480)), easel.ImageInfo{Format: "webp", Width: 640, Height: 480}},
		{"webp lossless", webpFile("VP8L", vp8lHeader(1000, 16383, false)), easel.ImageInfo{Format: "webp", Width: 1000, Height: 16383}},
		{"webp lossless alpha", webpFile("VP8L", vp8lHeader(3, 5, true)), easel.ImageInfo{Format: "webp", Width: 3, Height: 5, Alpha: true}},
		{"webp extended alpha", webpFile("VP8X", vp8xHeader(20000, 300, 0x10)), easel.ImageInfo{Format: "webp", Width: 20000, Height: 300, Alpha: true}},
		{"bomb", bombPNG(100_000, 100_000), easel.ImageInfo{Format: "png", Width: 100_000, Height: 100_000, Alpha: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := easel.InspectImage(tt.data)
			if err != nil || got != tt.want {
				t.Errorf("InspectImage = %+v, %v; want %+v", got, err, tt.want)
			}
			if ct := got.ContentType(); ct != "image/"+tt.want.Format {
				t.Errorf("ContentType() = %q", ct)
			}
		})
	}
}

func TestInspectImageRefuses(t *testing.T) {
	png1 := encodePNG(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	badColour := bytes.Clone(png1)
	badColour[8+8+9] = 5 // colour type 5 does not exist
	tests := []struct {
		name    string
		data    []byte
		unknown bool
	}{
		{"empty", nil, true},
		{"text", []byte("hello, this is not an image"), true},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), true},
		{"png signature only", png1[:8], false},
		{"png bad colour type", badColour, false},
		{"png zero width", bombPNG(0, 10), false},
		{"png huge side", bombPNG(1<<31, 1), false},
		{"jpeg truncated", []byte{0xff, 0xd8, 0xff, 0xe0, 0x00}, false},
		{"webp truncated", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), false},
		{"webp bad vp8", webpFile("VP8 ", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), false},
		{"webp animated", webpFile("VP8X", vp8xHeader(10, 10, 0x02)), false},
		{"webp unknown chunk", webpFile("ANIM", make([]byte, 10)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := easel.InspectImage(tt.data)
			if err == nil {
				t.Fatalf("InspectImage = %+v, nil; want an error", info)
			}
			if got := errors.Is(err, easel.ErrUnknownFormat); got != tt.unknown {
				t.Errorf("InspectImage error %v: unknown format = %v, want %v", err, got, tt.unknown)
			}
		})
	}
}

// TestDecompressionBomb checks that a 100,000 × 100,000 header is refused by reading
// only the header: no allocation proportional to the claimed size.
func TestDecompressionBomb(t *testing.T) {
	bomb := bombPNG(100_000, 100_000)
	spec := testSpec()
	req := &easel.EditRequest{Operation: easel.OpUpscaleFast, Image: bomb}
	checkParam(t, spec.ValidateEdit(req), easel.EInvalid, "image")
	allocs := testing.AllocsPerRun(20, func() { _ = spec.ValidateEdit(req) })
	if allocs > 10 {
		t.Errorf("ValidateEdit(bomb) made %.0f allocations; want a handful (the header only)", allocs)
	}
}

func BenchmarkInspectImage(b *testing.B) {
	data := bombPNG(3072, 3072) // 9.4 MP header
	for b.Loop() {
		if _, err := easel.InspectImage(data); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzInspectImage feeds InspectImage arbitrary bytes: it must never panic, and what
// it accepts must have a known format and a sane size.
func FuzzInspectImage(f *testing.F) {
	f.Add(bombPNG(100_000, 100_000))
	f.Add(webpFile("VP8 ", vp8Header(640, 480)))
	f.Add(webpFile("VP8L", vp8lHeader(3, 5, true)))
	f.Add(webpFile("VP8X", vp8xHeader(20000, 300, 0x10)))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := easel.InspectImage(data)
		if err != nil {
			return
		}
		if info.Format != "png" && info.Format != "jpeg" && info.Format != "webp" {
			t.Fatalf("InspectImage = %+v: unknown format", info)
		}
		if info.Width <= 0 || info.Height <= 0 || info.Width > 1<<24 || info.Height > 1<<24 {
			t.Fatalf("InspectImage = %+v: bad size", info)
		}
	})
}
