package dynamostore_test

import (
	"testing"
	"time"

	"github.com/easelhq/easel"
)

// BenchmarkCreateReady measures one image's catalog round trips: CreateImage (a
// conditional PutItem) then MarkReady (a conditional UpdateItem).
func BenchmarkCreateReady(b *testing.B) {
	cfg := dynamoConfig(b)
	s := openStore(b, cfg)
	cfgScale := 7.0
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		id := easel.NewID()
		img := &easel.Image{
			ID: id, UserID: "user-a", Status: easel.StatusPending, Model: "amazon.nova-canvas-v1:0",
			Prompt: "a lighthouse at dusk, oil on canvas", Width: 1024, Height: 1024, Seed: 42,
			CFGScale: &cfgScale, ContentType: "image/png", Bytes: 1 << 20, Key: easel.ImageKey(id, "image/png"),
			SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", CreatedAt: now,
		}
		if err := s.CreateImage(b.Context(), img); err != nil {
			b.Fatalf("CreateImage = %v", err)
		}
		if err := s.MarkReady(b.Context(), img.UserID, id); err != nil {
			b.Fatalf("MarkReady = %v", err)
		}
	}
}
