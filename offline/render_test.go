package offline_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/offline"
)

func TestRenderIsDeterministic(t *testing.T) {
	cases := []struct {
		prompt, negative string
		seed             uint64
		w, h             int
		format           string
	}{
		{"snowy mountains at sunset over a calm lake", "", 1, 128, 128, "png"},
		{"a pine forest in the hills", "fog", 2, 160, 96, "png"},
		{"city skyline at night", "", 3, 96, 128, "jpeg"},
		{"retro synthwave", "", 4, 128, 96, "png"},
		{"geometric circles pattern", "red", 5, 128, 128, "png"},
		{"space planet with rings", "", 6, 128, 128, "png"},
		{"", "", 7, 64, 64, "png"},
	}
	for _, c := range cases {
		t.Run(c.prompt, func(t *testing.T) {
			a := render(t, c.prompt, c.negative, c.seed, c.w, c.h, c.format)
			b := render(t, c.prompt, c.negative, c.seed, c.w, c.h, c.format)
			if !bytes.Equal(a, b) {
				t.Errorf("Render(%q) twice gave different bytes (%d and %d long)", c.prompt, len(a), len(b))
			}
		})
	}
}

func TestDifferentPromptsGiveDifferentPictures(t *testing.T) {
	prompts := []string{
		"snowy mountains at sunset",
		"a red fox in the forest",
		"ocean waves under the night sky",
		"desert dunes",
		"city skyline by the lake",
		"retro synthwave",
		"red circles geometric",
		"space planet",
		"a cat on a sofa",
		"a dog on a sofa",
	}
	imgs := make([]pixels, len(prompts))
	for i, p := range prompts {
		imgs[i] = pixelsOf(t, render(t, p, "", 7, 96, 96, "png"))
	}
	minDiff := 255.0
	for i := range prompts {
		for j := i + 1; j < len(prompts); j++ {
			// 6 of 255 on average over every pixel: a glance tells them apart.
			d := meanDiff(t, imgs[i], imgs[j])
			minDiff = min(minDiff, d)
			if d < 6 {
				t.Errorf("%q and %q differ by %.1f per channel on average, want >= 6", prompts[i], prompts[j], d)
			}
		}
	}
	t.Logf("the closest two pictures differ by %.1f per channel on average", minDiff)
}

func TestSeedsVaryThePicture(t *testing.T) {
	a := pixelsOf(t, render(t, "mountains", "", 1, 96, 96, "png"))
	b := pixelsOf(t, render(t, "mountains", "", 2, 96, 96, "png"))
	if d := meanDiff(t, a, b); d < 2 {
		t.Errorf("seeds 1 and 2 differ by %.1f per channel, want >= 2", d)
	}
}

func TestNegativePrompt(t *testing.T) {
	t.Run("changes the picture", func(t *testing.T) {
		for _, c := range []struct{ prompt, negative string }{
			{"sunset over the sea", "sun"},
			{"hills under a cloudy sky", "clouds"},
			{"sun over the mountains", "circles"},
			{"a quiet landscape", "blurry, watermark"},
		} {
			a := render(t, c.prompt, "", 3, 96, 96, "png")
			b := render(t, c.prompt, c.negative, 3, 96, 96, "png")
			if bytes.Equal(a, b) {
				t.Errorf("Render(%q) with negative prompt %q = same bytes as without", c.prompt, c.negative)
			}
		}
	})
	t.Run("bans a colour", func(t *testing.T) {
		for _, c := range []struct {
			prompt, colour string
			hue            float64
		}{
			{"red desert dunes", "red", 5},
			{"green forest", "green", 120},
			{"blue ocean waves", "blue", 220},
		} {
			with := hueShare(pixelsOf(t, render(t, c.prompt, "", 5, 96, 96, "png")), c.hue, 20)
			without := hueShare(pixelsOf(t, render(t, c.prompt, c.colour, 5, 96, 96, "png")), c.hue, 20)
			t.Logf("%q: %.0f%% near hue %v, %.0f%% with negative %q", c.prompt, 100*with, c.hue, 100*without, c.colour)
			if with < 0.15 {
				t.Errorf("Render(%q): %.0f%% of pixels near hue %v, want >= 15%%", c.prompt, 100*with, c.hue)
			}
			if without > with/4 {
				t.Errorf("Render(%q, negative %q): %.0f%% of pixels near hue %v (%.0f%% without it), want under a quarter",
					c.prompt, c.colour, 100*without, c.hue, 100*with)
			}
		}
	})
	t.Run("removes the sun", func(t *testing.T) {
		// The sun is the only near-white thing in these pictures.
		for seed := uint64(1); seed <= 3; seed++ {
			with := brightShare(pixelsOf(t, render(t, "sun over the mountains", "", seed, 96, 96, "png")), 240)
			if with < 0.005 {
				t.Errorf("Render(sun, seed %d): %.1f%% near-white pixels, want a sun", seed, 100*with)
			}
			for _, negative := range []string{"sun", "circles"} {
				without := brightShare(pixelsOf(t, render(t, "sun over the mountains", negative, seed, 96, 96, "png")), 240)
				if without > 0.001 {
					t.Errorf("Render(sun, negative %q, seed %d): %.1f%% near-white pixels, want no sun", negative, seed, 100*without)
				}
			}
		}
	})
	t.Run("no X in the prompt", func(t *testing.T) {
		without := render(t, "mountains with no sun", "", 9, 96, 96, "png")
		with := render(t, "mountains with sun", "", 9, 96, 96, "png")
		if bytes.Equal(without, with) {
			t.Errorf(`"mountains with no sun" drew the same picture as "mountains with sun"`)
		}
	})
}

func TestColourWordsSteerThePalette(t *testing.T) {
	for _, c := range []struct {
		prompt string
		hue    float64
	}{
		{"red hills", 10},
		{"green hills", 120},
		{"purple hills", 280},
		{"ocean", 215},
		{"forest", 130},
		{"gold", 45},
	} {
		img := pixelsOf(t, render(t, c.prompt, "", 11, 96, 96, "png"))
		share := hueShare(img, c.hue, 35)
		t.Logf("%q: %.0f%% near hue %v", c.prompt, 100*share, c.hue)
		if share < 0.2 {
			t.Errorf("Render(%q): %.0f%% of pixels near hue %v, want >= 20%%", c.prompt, 100*share, c.hue)
		}
	}
	day := luminance(pixelsOf(t, render(t, "hills at noon", "", 1, 96, 96, "png")))
	night := luminance(pixelsOf(t, render(t, "hills at night", "", 1, 96, 96, "png")))
	t.Logf("mean luma: day %.0f, night %.0f", day, night)
	if night > day*0.6 {
		t.Errorf("mean luma: night %.0f, day %.0f; want night well under day", night, day)
	}
}

func TestSizesAndFormats(t *testing.T) {
	sizes := []struct{ w, h int }{
		{256, 256}, {64, 256}, {256, 64}, {96, 32}, {1, 1}, {3, 7}, {17, 5},
		{2048, 2}, {2, 2048}, // elongated far past 4:1: must stay cheap
	}
	for _, sz := range sizes {
		for _, format := range []string{"png", "jpeg"} {
			t.Run(fmt.Sprintf("%dx%d.%s", sz.w, sz.h, format), func(t *testing.T) {
				data := render(t, "mountains by a lake at sunset", "", 1, sz.w, sz.h, format)
				img := decode(t, data)
				if got := img.Bounds().Size(); got != image.Pt(sz.w, sz.h) {
					t.Errorf("decoded size = %v, want %dx%d", got, sz.w, sz.h)
				}
				if format == "png" {
					checkZlibStream(t, data, sz.w, sz.h)
				}
			})
		}
	}
	if got := render(t, "hills", "", 1, 64, 64, ""); !bytes.HasPrefix(got, []byte("\x89PNG")) {
		t.Errorf(`Render(format "") did not give a PNG`)
	}
}

// checkZlibStream reads the whole IDAT stream, which verifies its Adler-32 checksum
// (image/png stops reading once it has the pixels).
func checkZlibStream(t *testing.T, data []byte, w, h int) {
	t.Helper()
	var idat []byte
	for p := 8; p+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if typ == "IDAT" {
			idat = append(idat, data[p+8:p+8+n]...)
		}
		p += 12 + n
	}
	zr, err := zlib.NewReader(bytes.NewReader(idat))
	if err != nil {
		t.Fatalf("zlib.NewReader: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("read zlib stream: %v", err)
	}
	if want := h * (1 + 3*w); len(raw) != want {
		t.Errorf("zlib stream has %d bytes, want %d", len(raw), want)
	}
	if _, err := png.DecodeConfig(bytes.NewReader(data)); err != nil {
		t.Errorf("png.DecodeConfig: %v", err)
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		w, h   int
		format string
		param  string
	}{
		{0, 256, "png", "width"},
		{256, -1, "png", "height"},
		{offline.MaxSide + 1, 256, "png", "width"},
		{256, 256, "gif", "output_format"},
	} {
		_, err := offline.Render("hills", "", 1, c.w, c.h, c.format)
		var e *easel.Error
		if !asError(err, &e) || e.Code != easel.EInvalid || e.Param != c.param {
			t.Errorf("Render(%dx%d, %q) error = %v, want invalid_request on %s", c.w, c.h, c.format, err, c.param)
		}
	}
}

func TestOddPromptsDoNotBreak(t *testing.T) {
	long := []rune(strings.Repeat("mountain ocean retro circle ünïcødé 山 ", 60))[:2000] // the longest prompt
	for i, p := range []string{
		"", "   ", "!!!", "no no no", "without", string(long), "🌄🌊🌙", "night day sunset noon",
		"black and white", "no circles, no red, no blue, no green, no stars", "grid grid grid",
	} {
		if _, err := offline.Render(p, p, uint64(i), 48, 64, "png"); err != nil {
			t.Errorf("Render(%q) error: %v", p, err)
		}
		if strings.TrimSpace(p) == "" || i%3 != 0 {
			continue // Validate refuses blank prompts; a few Generate calls suffice
		}
		styles := []string{"", "noir", "pastel", "vivid", "sunset", "ocean", "forest"}
		req := request(p, uint64(i), 256, 256, 1)
		req.Style = styles[i%len(styles)]
		if _, err := offline.New().Generate(t.Context(), req); err != nil {
			t.Errorf("Generate(%q, style %q) error: %v", p, req.Style, err)
		}
	}
}
