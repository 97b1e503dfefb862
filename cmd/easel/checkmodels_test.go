package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/internal/awstest"
)

// fakeBedrock serves the Bedrock wire fake (runtime and control plane) and points the
// SDK's standard settings at it.
func fakeBedrock(t *testing.T, opts ...bedrocktest.Option) {
	t.Helper()
	ak, sk := awstest.Credentials()
	fake := httptest.NewServer(bedrocktest.NewHandler(ak, sk, append(opts, bedrocktest.WithRegion(awstest.Region))...))
	t.Cleanup(fake.Close)
	awstest.Config(t, awstest.BedrockRuntime(fake.URL), awstest.Endpoint{Var: "AWS_ENDPOINT_URL_BEDROCK", URL: fake.URL})
	// Credentials is random when no emulator is running: sign with the fake's pair.
	t.Setenv("AWS_ACCESS_KEY_ID", ak)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sk)
}

// TestServeCheckModelsLegacy: with --check-models, a LEGACY model does not stop Easel
// from starting (the instances start with EASEL_CHECK_MODELS=true); it is a warning.
func TestServeCheckModelsLegacy(t *testing.T) {
	eol := time.Now().AddDate(0, 6, 0)
	fakeBedrock(t, bedrocktest.WithLifecycle(bedrock.IDNovaCanvas, bedrocktest.Lifecycle{Status: "LEGACY", EndOfLifeTime: eol}))
	s := startServerOn(t, t.TempDir(), "--model", "bedrock:nova-canvas", "--check-models")
	if !strings.Contains(s.logs.String(), "LEGACY") || !strings.Contains(s.logs.String(), eol.UTC().Format("2006-01-02")) {
		t.Errorf("no LEGACY warning with the end-of-life date in the log:\n%s", s.logs.String())
	}
}

// TestServeCheckModelsRefuses: a model past its end of life, or one the region does
// not offer, stops serve before it listens, naming the model.
func TestServeCheckModelsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, model, want string
		opt               bedrocktest.Option
	}{
		{"end of life", "bedrock:titan", bedrock.IDTitanImageV2 + " is past its end of life",
			bedrocktest.WithLifecycle(bedrock.IDTitanImageV2, bedrocktest.Lifecycle{Status: "LEGACY", EndOfLifeTime: time.Now().Add(-time.Hour)})},
		{"missing", "bedrock:sd3.5", bedrock.IDSD35Large + ": not offered in this region", bedrocktest.WithoutModel(bedrock.IDSD35Large)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakeBedrock(t, tc.opt)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, logs bytes.Buffer
			err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--model", tc.model, "--check-models"}, &out, &logs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("serve = %v, want an error containing %q; logs:\n%s", err, tc.want, logs.String())
			}
			if strings.Contains(out.String(), "serving on") {
				t.Errorf("serve started listening: %s", out.String())
			}
		})
	}
}
