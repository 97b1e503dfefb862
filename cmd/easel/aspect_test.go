package main

import (
	"image/png"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/internal/awstest"
)

// TestAspectRatioOnSizedModels: aspect_ratio works on every model, not only on those
// that take ratios. A model with sizes (offline, Titan, Nova Canvas) makes the allowed
// size nearest to the ratio, and the answer's width and height say which. The Bedrock
// fake checks each body against the model's documented schema, sizes included.
func TestAspectRatioOnSizedModels(t *testing.T) {
	bedrockFake(t, bedrocktest.WithSmallImages())
	base, key := startServer(t, "--model", "offline", "--model", "bedrock:titan", "--model", "bedrock:nova-canvas",
		"--model", "bedrock:core", "--user-rate=0", "--user-concurrency=0", "--thumbnails=false")
	c := &apiClient{t, base}
	for _, tc := range []struct {
		model, ratio string
		w, h         int
	}{
		{"offline", "16:9", 1472, 832},
		{"offline", "9:16", 832, 1472},
		{"offline", "4:3", 1280, 960},
		{"titan", "16:9", 1152, 640},
		{"titan", "4:3", 1152, 896},
		{"nova-canvas", "16:9", 1392, 784},
		{"nova-canvas", "21:9", 1568, 672},
		{"core", "16:9", 1344 / 8, 768 / 8}, // Stability takes the ratio itself (the fake answers at 1/8 size)
	} {
		imgs := c.generate(key, map[string]any{"prompt": "a wide harbour", "model": tc.model, "aspect_ratio": tc.ratio})
		img := imgs[0]
		if img["width"] != float64(tc.w) || img["height"] != float64(tc.h) || img["aspect_ratio"] != tc.ratio {
			t.Errorf("model %s, aspect_ratio %s: answer says %vx%v (aspect_ratio %v), want %dx%d (%s)",
				tc.model, tc.ratio, img["width"], img["height"], img["aspect_ratio"], tc.w, tc.h, tc.ratio)
		}
	}
	// The client's --aspect takes the same path.
	stdout, stderr, err := runCmd(t, "generate", "--aspect", "16:9", "--model", "titan", "--key", key, "--server", base,
		"--out", t.TempDir(), "a wide harbour")
	if err != nil {
		t.Fatalf("generate --aspect 16:9: %v\n%s", err, stderr)
	}
	path, _, _ := strings.Cut(stdout, "\t")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if cfg, err := png.DecodeConfig(f); err != nil || cfg.Width != 1152 || cfg.Height != 640 {
		t.Errorf("generate --aspect 16:9 on titan saved %dx%d (%v), want 1152x640", cfg.Width, cfg.Height, err)
	}
	// Both a size and a ratio that disagree are still refused, naming the field.
	r := c.do("POST", "/v1/images", key, map[string]any{"prompt": "x", "width": 512, "height": 512, "aspect_ratio": "16:9"})
	if r.status != 400 || r.errorField(t, "param") != "aspect_ratio" {
		t.Errorf("width, height and another aspect_ratio = %d %s, want 400 on aspect_ratio", r.status, r.body)
	}
}

// bedrockFake starts the Bedrock wire fake and points the SDK's standard settings at it
// (with t.Setenv: the test must not be parallel).
func bedrockFake(t *testing.T, opts ...bedrocktest.Option) *bedrocktest.Handler {
	t.Helper()
	ak, sk := awstest.Credentials()
	// awstest.Config signs with the same pair only if it comes from the environment.
	t.Setenv("EASEL_TEST_S3_ACCESS_KEY", ak)
	t.Setenv("EASEL_TEST_S3_SECRET_KEY", sk)
	h := bedrocktest.NewHandler(ak, sk, append([]bedrocktest.Option{bedrocktest.WithRegion(awstest.Region)}, opts...)...)
	fake := httptest.NewServer(h)
	t.Cleanup(fake.Close)
	awstest.Config(t, awstest.BedrockRuntime(fake.URL))
	return h
}
