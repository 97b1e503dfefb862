package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// TestServeCheckModelsImageServices: --check-models looks up each image service behind
// bedrock:us.image-services (through its us. profile's base model), and one the region
// lacks stops serve, naming it.
func TestServeCheckModelsImageServices(t *testing.T) {
	fakeBedrock(t)
	s := startServerOn(t, t.TempDir(), "--model", "bedrock:sd3.5", "--model", "bedrock:us.image-services", "--check-models")
	if s.url == "" {
		t.Fatal("serve did not start with every image service offered")
	}

	t.Run("missing", func(t *testing.T) {
		fakeBedrock(t, bedrocktest.WithoutModel(bedrock.IDStableStyleTransfer))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out, logs bytes.Buffer
		err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--model", "bedrock:sd3.5",
			"--model", "bedrock:us.image-services", "--check-models"}, &out, &logs)
		if err == nil || !strings.Contains(err.Error(), bedrock.IDStableStyleTransfer) {
			t.Errorf("serve = %v, want an error naming %s; logs:\n%s", err, bedrock.IDStableStyleTransfer, logs.String())
		}
	})
}
