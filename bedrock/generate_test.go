package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"slices"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
)

func seed(v uint64) *uint64  { return &v }
func cfg(v float64) *float64 { return &v }
func bodyOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("request body %q: %v", b, err)
	}
	return m
}

// TestGenerateEachFamily sends one request per model through the real SDK to the
// fake, which checks the body against the model's documented schema, and checks the
// images that come back.
func TestGenerateEachFamily(t *testing.T) {
	tests := []struct {
		id       string
		req      easel.GenerateRequest
		n        int
		w, h     int    // expected size
		ct       string // expected content type
		wantBody []string
	}{
		{"core", easel.GenerateRequest{Prompt: "a lighthouse at dusk", NegativePrompt: "fog", N: 2, Seed: seed(100)},
			2, 128, 128, "image/png", []string{`"negative_prompt":"fog"`, `"aspect_ratio":"1:1"`, `"output_format":"png"`}},
		{"ultra", easel.GenerateRequest{Prompt: "a lighthouse", AspectRatio: "16:9", OutputFormat: "jpeg", Seed: seed(5)},
			1, 168, 96, "image/jpeg", []string{`"aspect_ratio":"16:9"`, `"output_format":"jpeg"`, `"seed":5`}},
		{"sd3.5", easel.GenerateRequest{Prompt: "a lighthouse", AspectRatio: "2:3", Seed: seed(9)},
			1, 104, 152, "image/png", []string{`"mode":"text-to-image"`, `"aspect_ratio":"2:3"`}},
		{"titan", easel.GenerateRequest{Prompt: "a lighthouse", NegativePrompt: "people", Width: 384, Height: 576, N: 3, Seed: seed(11), Quality: "premium"},
			3, 384, 576, "image/png", []string{`"taskType":"TEXT_IMAGE"`, `"numberOfImages":3`, `"negativeText":"people"`, `"cfgScale":8`, `"quality":"premium"`}},
		{"nova-canvas", easel.GenerateRequest{Prompt: "a lighthouse", Width: 320, Height: 480, N: 2, Seed: seed(2147483646), CFGScale: cfg(3.5), Style: "MAXIMALISM"},
			2, 320, 480, "image/png", []string{`"style":"MAXIMALISM"`, `"cfgScale":3.5`, `"seed":2147483646`, `"width":320`}},
		{bedrock.IDSDXL, easel.GenerateRequest{Prompt: "a lighthouse", NegativePrompt: "boats", Width: 640, Height: 1536, Seed: seed(77), Style: "anime"},
			1, 640, 1536, "image/png", []string{`"text_prompts":[{"text":"a lighthouse","weight":1},{"text":"boats","weight":-1}]`, `"style_preset":"anime"`, `"samples":1`}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			srv, client := newFake(t)
			m := newModel(t, client, tt.id, bedrock.Options{})
			spec := m.Spec()
			req := tt.req
			if err := spec.Validate(&req); err != nil {
				t.Fatalf("Validate(%+v) = %v", req, err)
			}
			spec.Normalize(&req)
			g, err := m.Generate(context.Background(), &req)
			if err != nil {
				t.Fatalf("Generate = %v", err)
			}
			if len(g.Images) != tt.n || g.Filtered != 0 {
				t.Fatalf("Generate = %d images, %d filtered; want %d, 0", len(g.Images), g.Filtered, tt.n)
			}
			var seeds []uint64
			for _, im := range g.Images {
				if im.ContentType != tt.ct || im.Width != tt.w || im.Height != tt.h {
					t.Errorf("image = %s %dx%d, want %s %dx%d", im.ContentType, im.Width, im.Height, tt.ct, tt.w, tt.h)
				}
				cfgImg, format, err := image.DecodeConfig(bytes.NewReader(im.Data))
				if err != nil || "image/"+format != im.ContentType || cfgImg.Width != im.Width {
					t.Errorf("image.DecodeConfig = %v, %q, %v", cfgImg, format, err)
				}
				if _, _, err := image.Decode(bytes.NewReader(im.Data)); err != nil {
					t.Errorf("image.Decode = %v", err)
				}
				seeds = append(seeds, im.Seed)
			}
			// Stability answers carry the seeds; Amazon images all report the request's.
			wantSeeds := []uint64{*tt.req.Seed}
			for i := 1; i < tt.n; i++ {
				if strings.HasPrefix(bedrock.BaseModelID(tt.id), "stability.") {
					wantSeeds = append(wantSeeds, *tt.req.Seed+uint64(i))
				} else {
					wantSeeds = append(wantSeeds, *tt.req.Seed)
				}
			}
			slices.Sort(seeds)
			if !slices.Equal(seeds, wantSeeds) {
				t.Errorf("seeds = %v, want %v", seeds, wantSeeds)
			}
			id := bedrock.ResolveAlias(tt.id)
			calls := 1
			if strings.HasPrefix(id, "stability.") {
				calls = tt.n
			}
			if got := srv.Calls(id); got != calls {
				t.Errorf("Calls(%s) = %d, want %d", id, got, calls)
			}
			body := string(srv.LastRequest(id))
			for _, want := range tt.wantBody {
				if !strings.Contains(body, want) {
					t.Errorf("request body %s lacks %s", body, want)
				}
			}
		})
	}
}

// TestStabilitySeedZero checks that a seed the model chose (seed 0 asks for a random
// one) is reported from the answer.
func TestStabilitySeedZero(t *testing.T) {
	_, client := newFake(t)
	m := newModel(t, client, "core", bedrock.Options{})
	g, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox", Seed: seed(0)})
	if err != nil {
		t.Fatalf("Generate = %v", err)
	}
	if g.Images[0].Seed == 0 {
		t.Errorf("Seed = 0, want the seed the model chose")
	}
}

func TestNoNegativeTextWhenEmpty(t *testing.T) {
	srv, client := newFake(t)
	m := newModel(t, client, "nova-canvas", bedrock.Options{})
	if _, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox", Width: 320, Height: 320}); err != nil {
		t.Fatalf("Generate = %v", err)
	}
	b := bodyOf(t, srv.LastRequest(bedrock.IDNovaCanvas))
	params := b["textToImageParams"].(map[string]any)
	if _, ok := params["negativeText"]; ok {
		t.Errorf("textToImageParams = %v: an empty negativeText is refused by Nova, it must be left out", params)
	}
}

func TestAliasesAndIDs(t *testing.T) {
	for alias, want := range map[string]string{
		"core": bedrock.IDStableImageCore, "ultra": bedrock.IDStableImageUltra, "sd3.5": bedrock.IDSD35Large,
		"titan": bedrock.IDTitanImageV2, "nova-canvas": bedrock.IDNovaCanvas, " Core ": bedrock.IDStableImageCore,
		"us.stability.sd3-5-large-v1:0": "us.stability.sd3-5-large-v1:0",
	} {
		if got := bedrock.ResolveAlias(alias); got != want {
			t.Errorf("ResolveAlias(%q) = %q, want %q", alias, got, want)
		}
	}
	for id, want := range map[string]string{
		"us.stability.stable-image-core-v1:1":                                    bedrock.IDStableImageCore,
		"global.amazon.nova-canvas-v1:0":                                         bedrock.IDNovaCanvas,
		"apac.stability.stable-image-ultra-v1:1":                                 bedrock.IDStableImageUltra,
		"eu.amazon.titan-image-generator-v2:0":                                   bedrock.IDTitanImageV2,
		"arn:aws:bedrock:us-west-2::foundation-model/stability.sd3-5-large-v1:0": bedrock.IDSD35Large,
		"ultra": bedrock.IDStableImageUltra,
	} {
		if got := bedrock.BaseModelID(id); got != want {
			t.Errorf("BaseModelID(%q) = %q, want %q", id, got, want)
		}
	}

	srv, client := newFake(t)
	for _, tt := range []struct{ id, specID string }{
		{"core", "core"},
		{"us.stability.stable-image-core-v1:1", "us.stability.stable-image-core-v1:1"},
		{bedrock.IDNovaCanvas, bedrock.IDNovaCanvas},
	} {
		m := newModel(t, client, tt.id, bedrock.Options{})
		if got := m.Spec().ID; got != tt.specID {
			t.Errorf("New(%q).Spec().ID = %q, want %q", tt.id, got, tt.specID)
		}
		if got := m.Spec().Provider; got != "bedrock" {
			t.Errorf("Spec().Provider = %q, want bedrock", got)
		}
	}
	// A profile id is sent as configured.
	m := newModel(t, client, "us.stability.stable-image-core-v1:1", bedrock.Options{})
	if _, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"}); err != nil {
		t.Fatalf("Generate via profile = %v", err)
	}
	if got := srv.Calls("us.stability.stable-image-core-v1:1"); got != 1 {
		t.Errorf("Calls(profile) = %d, want 1", got)
	}

	for _, bad := range []string{"", "dall-e-3", "stability.unknown-v9", "amazon.nova-reel-v1:0"} {
		if _, err := bedrock.New(client, bad, bedrock.Options{}); err == nil || !strings.Contains(err.Error(), "unknown image model") {
			t.Errorf("New(%q) = %v, want an unknown-model error", bad, err)
		}
	}
	if _, err := bedrock.New(nil, "core", bedrock.Options{}); err == nil {
		t.Errorf("New(nil client) = nil error, want one")
	}
}
