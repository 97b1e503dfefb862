package signedurl

import (
	"context"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/localfs"
)

func BenchmarkSignHMAC(b *testing.B) {
	key := make([]byte, 32)
	h, _ := NewHMAC(key)
	k := easel.ImageKey(easel.NewID(), "image/png")
	exp := time.Now().Add(time.Hour)
	for b.Loop() {
		_, _ = h.Sign(k, "/images/"+k, exp)
	}
}

func BenchmarkSignCloudFront(b *testing.B) {
	cf, _ := NewCloudFront("K2JCJMDEHXQW5F", rsaKey(b))
	k := easel.ImageKey(easel.NewID(), "image/png")
	exp := time.Now().Add(time.Hour)
	for b.Loop() {
		_, _ = cf.Sign(k, "https://d111111abcdef8.cloudfront.net/images/"+k, exp)
	}
}

// BenchmarkStoreURLCloudFront is a page's worth of URLs asked again within the
// quarter: answered from the cache.
func BenchmarkStoreURLCloudFront(b *testing.B) {
	cf, _ := NewCloudFront("K2JCJMDEHXQW5F", rsaKey(b))
	inner, _ := localfs.New(b.TempDir(), "https://d111111abcdef8.cloudfront.net/images/")
	st, _ := New(inner, cf, time.Hour)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = easel.ImageKey(easel.NewID(), "image/png")
	}
	ctx := context.Background()
	for _, k := range keys {
		_, _ = st.URL(ctx, k)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, k := range keys {
			_, _ = st.URL(ctx, k)
		}
	}
}
