package offline_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"testing"

	"github.com/easelhq/easel/offline"
)

// render calls offline.Render and fails the test on error.
func render(t testing.TB, prompt, negative string, seed uint64, w, h int, format string) []byte {
	t.Helper()
	data, err := offline.Render(prompt, negative, seed, w, h, format)
	if err != nil {
		t.Fatalf("Render(%q, %q, %d, %d, %d, %q) error: %v", prompt, negative, seed, w, h, format, err)
	}
	return data
}

// decode decodes a PNG or JPEG and fails the test if it is neither.
func decode(t testing.TB, data []byte) image.Image {
	t.Helper()
	var (
		img image.Image
		err error
	)
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		img, err = png.Decode(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0xff, 0xd8}):
		img, err = jpeg.Decode(bytes.NewReader(data))
	default:
		t.Fatalf("data starts with %x: neither PNG nor JPEG", data[:min(8, len(data))])
	}
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return img
}

// pixels is a decoded picture as RGB bytes, for quick comparisons.
type pixels struct {
	w, h int
	rgb  []byte
}

// pixelsOf decodes data into RGB bytes.
func pixelsOf(t testing.TB, data []byte) pixels {
	t.Helper()
	img := decode(t, data)
	r := img.Bounds()
	p := pixels{w: r.Dx(), h: r.Dy(), rgb: make([]byte, 0, 3*r.Dx()*r.Dy())}
	if m, ok := img.(*image.RGBA); ok {
		for i := 0; i < len(m.Pix); i += 4 {
			p.rgb = append(p.rgb, m.Pix[i], m.Pix[i+1], m.Pix[i+2])
		}
		return p
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			R, G, B, _ := img.At(x, y).RGBA()
			p.rgb = append(p.rgb, byte(R>>8), byte(G>>8), byte(B>>8))
		}
	}
	return p
}

// meanDiff returns the mean absolute difference of two same-sized pictures, per
// channel, on the 0..255 scale.
func meanDiff(t testing.TB, a, b pixels) float64 {
	t.Helper()
	if a.w != b.w || a.h != b.h {
		t.Fatalf("sizes %dx%d and %dx%d differ", a.w, a.h, b.w, b.h)
	}
	sum := 0
	for i := range a.rgb {
		d := int(a.rgb[i]) - int(b.rgb[i])
		sum += max(d, -d)
	}
	return float64(sum) / float64(len(a.rgb))
}

// hueShare returns the share of a picture's pixels that are clearly coloured (not
// grey) with a hue (HSV, degrees) within width degrees of centre.
func hueShare(p pixels, centre, width float64) float64 {
	hit := 0
	for i := 0; i < len(p.rgb); i += 3 {
		h, s := hueSat(float64(p.rgb[i])/255, float64(p.rgb[i+1])/255, float64(p.rgb[i+2])/255)
		if s < 0.25 {
			continue
		}
		if d := math.Abs(math.Mod(h-centre+540, 360) - 180); d <= width {
			hit++
		}
	}
	return float64(hit) / float64(p.w*p.h)
}

func hueSat(r, g, b float64) (h, s float64) {
	mx, mn := max(r, g, b), min(r, g, b)
	if mx == 0 || mx == mn {
		return 0, 0
	}
	d := mx - mn
	switch mx {
	case r:
		h = math.Mod((g-b)/d, 6)
	case g:
		h = (b-r)/d + 2
	default:
		h = (r-g)/d + 4
	}
	return math.Mod(h*60+360, 360), d / mx
}

// luminance returns the mean luma (0..255) of a picture.
func luminance(p pixels) float64 {
	var sum float64
	for i := 0; i < len(p.rgb); i += 3 {
		sum += 0.299*float64(p.rgb[i]) + 0.587*float64(p.rgb[i+1]) + 0.114*float64(p.rgb[i+2])
	}
	return sum / float64(p.w*p.h)
}

// brightShare returns the share of a picture's pixels whose luma is at least least.
func brightShare(p pixels, least float64) float64 {
	n := 0
	for i := 0; i < len(p.rgb); i += 3 {
		if 0.299*float64(p.rgb[i])+0.587*float64(p.rgb[i+1])+0.114*float64(p.rgb[i+2]) >= least {
			n++
		}
	}
	return float64(n) / float64(p.w*p.h)
}
