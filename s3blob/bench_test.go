package s3blob_test

import (
	"crypto/rand"
	"testing"

	"github.com/easelhq/easel"
)

// BenchmarkPut stores a 1.5 MB object (a typical 1024x1024 PNG) per iteration.
func BenchmarkPut(b *testing.B) {
	cfg := s3Config(b)
	s, _ := openStore(b, cfg)
	data := make([]byte, 1536<<10)
	_, _ = rand.Read(data)
	key := easel.ImageKey(easel.NewID(), "image/png")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Put(b.Context(), key, data, "image/png"); err != nil {
			b.Fatalf("Put(%q) = %v", key, err)
		}
	}
}
