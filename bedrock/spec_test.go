package bedrock_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
)

// TestSpecValidation checks each model's limits, as data, through spec.Validate and
// through Generate, which must refuse the same requests without calling the model.
func TestSpecValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		model string
		req   easel.GenerateRequest
		param string // "" means valid
	}{
		// Stability: aspect ratios, no sizes, no cfg/style/quality.
		{"core", easel.GenerateRequest{Prompt: "ok", AspectRatio: "9:21", NegativePrompt: "x", OutputFormat: "jpeg", N: 4, Seed: seed(4294967294)}, ""},
		{"core", easel.GenerateRequest{Prompt: "ok", AspectRatio: "4:3"}, "aspect_ratio"},
		{"core", easel.GenerateRequest{Prompt: "ok", Width: 1024, Height: 1024}, "width"},
		{"core", easel.GenerateRequest{Prompt: "ok", Seed: seed(4294967295)}, "seed"},
		{"core", easel.GenerateRequest{Prompt: "ok", N: 5}, "n"},
		{"core", easel.GenerateRequest{Prompt: "ok", CFGScale: cfg(5)}, "cfg_scale"},
		{"ultra", easel.GenerateRequest{Prompt: "ok", Style: "anime"}, "style"},
		{"ultra", easel.GenerateRequest{Prompt: "ok", Quality: "premium"}, "quality"},
		{"ultra", easel.GenerateRequest{Prompt: long(10001)}, "prompt"},
		{"sd3.5", easel.GenerateRequest{Prompt: "ok", OutputFormat: "webp"}, "output_format"},
		{"sd3.5", easel.GenerateRequest{Prompt: "   "}, "prompt"},
		// Titan v2: a list of sizes, 512-character prompts, cfg 1.1-10, no style, png only.
		{"titan", easel.GenerateRequest{Prompt: "ok", Width: 1173, Height: 640, N: 5, CFGScale: cfg(10), Quality: "standard", Seed: seed(2147483646)}, ""},
		{"titan", easel.GenerateRequest{Prompt: "ok", AspectRatio: "3:2"}, ""},
		{"titan", easel.GenerateRequest{Prompt: "ok", Width: 1000, Height: 1000}, "width"},
		{"titan", easel.GenerateRequest{Prompt: "ok", AspectRatio: "4:3"}, ""}, // the nearest size, 1152x896
		{"titan", easel.GenerateRequest{Prompt: "ok", AspectRatio: "4x3"}, "aspect_ratio"},
		{"titan", easel.GenerateRequest{Prompt: long(513)}, "prompt"},
		{"titan", easel.GenerateRequest{Prompt: "ok", NegativePrompt: long(513)}, "negative_prompt"},
		{"titan", easel.GenerateRequest{Prompt: "ok", Seed: seed(2147483647)}, "seed"},
		{"titan", easel.GenerateRequest{Prompt: "ok", CFGScale: cfg(1.0)}, "cfg_scale"},
		{"titan", easel.GenerateRequest{Prompt: "ok", Style: "PHOTOREALISM"}, "style"},
		{"titan", easel.GenerateRequest{Prompt: "ok", N: 6}, "n"},
		{"titan", easel.GenerateRequest{Prompt: "ok", OutputFormat: "jpeg"}, "output_format"},
		// Nova Canvas: a size range.
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", Width: 4096, Height: 1024, Style: "DESIGN_SKETCH", Quality: "premium"}, ""},
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", Width: 2048, Height: 2048}, ""},
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", Width: 300, Height: 320}, "width"},
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", Width: 330, Height: 320}, "width"},
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", Width: 2064, Height: 2048}, "width"},
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", Width: 4096, Height: 960}, "width"},
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", Style: "anime"}, "style"},
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", Quality: "ultra"}, "quality"},
		{"nova-canvas", easel.GenerateRequest{Prompt: "ok", CFGScale: cfg(10.5)}, "cfg_scale"},
		{"nova-canvas", easel.GenerateRequest{Prompt: long(1025)}, "prompt"},
		// SDXL: its own sizes and style presets.
		{bedrock.IDSDXL, easel.GenerateRequest{Prompt: "ok", Width: 1536, Height: 640, Style: "pixel-art", CFGScale: cfg(35)}, ""},
		{bedrock.IDSDXL, easel.GenerateRequest{Prompt: "ok", Width: 512, Height: 512}, "width"},
		{bedrock.IDSDXL, easel.GenerateRequest{Prompt: "ok", Style: "PHOTOREALISM"}, "style"},
	}
	_, client := newFake(t)
	for _, tt := range tests {
		name := tt.model + "/" + tt.param
		if tt.param == "" {
			name = tt.model + "/valid"
		}
		t.Run(name, func(t *testing.T) {
			m := newModel(t, client, tt.model, bedrock.Options{})
			spec := m.Spec()
			err := spec.Validate(&tt.req)
			var e *easel.Error
			switch {
			case tt.param == "" && err != nil:
				t.Fatalf("Validate(%+v) = %v, want nil", tt.req, err)
			case tt.param != "" && (!errors.As(err, &e) || e.Code != easel.EInvalid || e.Param != tt.param):
				t.Fatalf("Validate(%+v) = %v, want invalid_request on %s", tt.req, err, tt.param)
			}
			if tt.param != "" {
				// Generate refuses it too, before any call (the fake would count one).
				if _, err := m.Generate(context.Background(), &tt.req); !errors.As(err, &e) || e.Param != tt.param {
					t.Errorf("Generate(%+v) = %v, want invalid_request on %s", tt.req, err, tt.param)
				}
			}
		})
	}
}

// TestSpecValuesAreDocumented pins the headline limits of each model.
func TestSpecValuesAreDocumented(t *testing.T) {
	_, client := newFake(t)
	for _, tt := range []struct {
		id        string
		prompt    int
		maxImages int
		seedMax   uint64
	}{
		{"core", 10000, 4, 4294967294},
		{"ultra", 10000, 4, 4294967294},
		{"sd3.5", 10000, 4, 4294967294},
		{"titan", 512, 5, 2147483646},
		{"nova-canvas", 1024, 5, 2147483646},
	} {
		s := newModel(t, client, tt.id, bedrock.Options{}).Spec()
		if s.MaxPromptLength != tt.prompt || s.MaxImages != tt.maxImages || s.SeedMax != tt.seedMax || !s.NegativePrompt {
			t.Errorf("Spec(%s) = prompt %d, n %d, seed %d, negative %v; want %d, %d, %d, true",
				tt.id, s.MaxPromptLength, s.MaxImages, s.SeedMax, s.NegativePrompt, tt.prompt, tt.maxImages, tt.seedMax)
		}
	}
	if ids := bedrock.KnownModelIDs(); len(ids) < 6 {
		t.Errorf("KnownModelIDs = %v", ids)
	}
}
