package easel_test

import (
	"strings"
	"testing"

	"github.com/easelhq/easel"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := easel.NewID()
		if !easel.ValidID(id) {
			t.Fatalf("NewID() = %q, not ValidID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestKeys(t *testing.T) {
	id := easel.NewID()
	for _, tc := range []struct {
		key string
		ct  string
	}{
		{easel.ImageKey(id, "image/png"), "image/png"},
		{easel.ImageKey(id, "image/jpeg"), "image/jpeg"},
		{easel.ThumbKey(id, "image/jpeg"), "image/jpeg"},
	} {
		got, ok := easel.IDFromKey(tc.key)
		if !ok || got != id {
			t.Errorf("IDFromKey(%q) = %q, %v; want %q", tc.key, got, ok, id)
		}
		if ct := easel.ContentTypeOfKey(tc.key); ct != tc.ct {
			t.Errorf("ContentTypeOfKey(%q) = %q, want %q", tc.key, ct, tc.ct)
		}
	}
}

func TestValidateAndNormalize(t *testing.T) {
	spec := easel.ModelSpec{
		ID: "m", MaxPromptLength: 10, SizeRange: &easel.SizeRange{Min: 256, Max: 1024, Step: 64, MaxAspect: 4},
		DefaultSize: easel.Size{Width: 512, Height: 512}, MaxImages: 2, SeedMax: 100, OutputFormats: []string{"png"},
	}
	seed := uint64(101)
	for _, tc := range []struct {
		req   easel.GenerateRequest
		param string
	}{
		{easel.GenerateRequest{Prompt: "ok"}, ""},
		{easel.GenerateRequest{Prompt: strings.Repeat("é", 11)}, "prompt"},
		{easel.GenerateRequest{Prompt: "ok", NegativePrompt: "no"}, "negative_prompt"},
		{easel.GenerateRequest{Prompt: "ok", Width: 256, Height: 1088}, "height"},
		{easel.GenerateRequest{Prompt: "ok", Width: 256, Height: 1024, AspectRatio: "16:9"}, "aspect_ratio"},
		{easel.GenerateRequest{Prompt: "ok", Width: 256, Height: 1024, AspectRatio: "1:4"}, ""}, // what Normalize makes of 1:4
		{easel.GenerateRequest{Prompt: "ok", AspectRatio: "16:9"}, ""},
		{easel.GenerateRequest{Prompt: "ok", Seed: &seed}, "seed"},
		{easel.GenerateRequest{Prompt: "ok", N: 3}, "n"},
	} {
		err := spec.Validate(&tc.req)
		var param string
		if e, ok := err.(*easel.Error); ok {
			param = e.Param
		}
		if param != tc.param || (tc.param == "") != (err == nil) {
			t.Errorf("Validate(%+v) = %v, want param %q", tc.req, err, tc.param)
		}
	}
	r := easel.GenerateRequest{Prompt: "ok", AspectRatio: "16:9"}
	spec.Normalize(&r)
	if r.Width%64 != 0 || r.Height%64 != 0 || r.N != 1 || r.OutputFormat != "png" || r.AspectRatio != "16:9" {
		t.Errorf("Normalize(16:9) = %+v", r)
	}
}

// TestAspectRatioOnSizedModels: a model that takes sizes makes the allowed size nearest
// to an asked aspect ratio, keeps the ratio in the request, and the normalized request
// passes Validate again (as the model adapters check it).
func TestAspectRatioOnSizedModels(t *testing.T) {
	list := easel.ModelSpec{ // Titan Image v2's sizes, in part
		ID: "list", MaxPromptLength: 10, MaxImages: 1, SeedMax: 1, OutputFormats: []string{"png"},
		Sizes: []easel.Size{{1024, 1024}, {768, 768}, {512, 512}, {1152, 768}, {768, 1152},
			{1280, 768}, {1152, 896}, {1408, 640}, {1152, 640}, {1173, 640}, {704, 320}},
		DefaultSize: easel.Size{Width: 1024, Height: 1024},
	}
	rng := easel.ModelSpec{ // Nova Canvas's range
		ID: "range", MaxPromptLength: 10, MaxImages: 1, SeedMax: 1, OutputFormats: []string{"png"},
		SizeRange:   &easel.SizeRange{Min: 320, Max: 4096, Step: 16, MaxPixels: 4194304, MaxAspect: 4},
		DefaultSize: easel.Size{Width: 1024, Height: 1024},
	}
	for _, tc := range []struct {
		spec  easel.ModelSpec
		ratio string
		want  easel.Size
	}{
		{list, "1:1", easel.Size{1024, 1024}},
		{list, "3:2", easel.Size{1152, 768}},     // exact
		{list, "16:9", easel.Size{1152, 640}},    // nearest shape: 1.8
		{list, "4:3", easel.Size{1152, 896}},     // nearest shape: 1.29
		{list, "21:9", easel.Size{1408, 640}},    // 2.2, at the default area rather than 704x320
		{list, "2:3", easel.Size{768, 1152}},     // exact, portrait
		{rng, "16:9", easel.Size{1392, 784}},     // 16:9 within 0.2 %, at about the default area (1280x720 is exact but smaller)
		{rng, "1:1", easel.Size{1024, 1024}},     // the default
		{rng, "9:21", easel.Size{672, 1568}},     // exact shape, multiples of 16
		{rng, "10:1", easel.Size{2048, 512}},     // past the 4:1 limit: the most elongated allowed near the default area
		{rng, "999:998", easel.Size{1024, 1024}}, // nearly square
	} {
		r := easel.GenerateRequest{Prompt: "ok", AspectRatio: tc.ratio}
		if err := tc.spec.Validate(&r); err != nil {
			t.Errorf("%s: Validate(aspect_ratio %s) = %v", tc.spec.ID, tc.ratio, err)
			continue
		}
		tc.spec.Normalize(&r)
		if got := (easel.Size{Width: r.Width, Height: r.Height}); got != tc.want || r.AspectRatio != tc.ratio {
			t.Errorf("%s: Normalize(aspect_ratio %s) = %v (ratio %q), want %v", tc.spec.ID, tc.ratio, got, r.AspectRatio, tc.want)
		}
		if err := tc.spec.Validate(&r); err != nil {
			t.Errorf("%s: Validate(Normalize(aspect_ratio %s)) = %v, want nil", tc.spec.ID, tc.ratio, err)
		}
		// A size other than the one the ratio gives, with the ratio, is still refused.
		r.Width += 16
		if err := tc.spec.Validate(&r); easel.ErrorCode(err) != easel.EInvalid {
			t.Errorf("%s: Validate(aspect_ratio %s with %dx%d) = %v, want invalid_request", tc.spec.ID, tc.ratio, r.Width, r.Height, err)
		}
	}
	for _, bad := range []string{"x", "16x9", "0:1", "1:0", "1000:1", "16:9:1", ":"} {
		r := easel.GenerateRequest{Prompt: "ok", AspectRatio: bad}
		err := rng.Validate(&r)
		if e, ok := err.(*easel.Error); !ok || e.Param != "aspect_ratio" {
			t.Errorf("Validate(aspect_ratio %q) = %v, want invalid_request on aspect_ratio", bad, err)
		}
	}
}

func FuzzIDFromKey(f *testing.F) {
	for _, s := range []string{"", "x.png", easel.ImageKey(easel.NewID(), "image/png"), "../" + easel.NewID() + ".png", easel.NewID() + ".thumb.jpg/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		id, ok := easel.IDFromKey(key)
		if !ok {
			return
		}
		if !easel.ValidID(id) || strings.ContainsAny(key, "/\\\x00") || strings.Contains(key, "..") {
			t.Fatalf("IDFromKey(%q) accepted an unsafe key (id %q)", key, id)
		}
		if easel.ImageKey(id, easel.ContentTypeOfKey(key)) != key && easel.ThumbKey(id, easel.ContentTypeOfKey(key)) != key {
			t.Fatalf("IDFromKey(%q) accepted a key Easel does not make", key)
		}
	})
}
