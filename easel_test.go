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
		{easel.GenerateRequest{Prompt: "ok", Width: 256, Height: 1024, AspectRatio: "1:4"}, "aspect_ratio"},
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
	if r.Width*9 != r.Height*16 || r.Width%64 != 0 || r.N != 1 || r.OutputFormat != "png" {
		t.Errorf("Normalize(16:9) = %+v", r)
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
