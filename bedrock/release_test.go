package bedrock_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
)

// TestImagesKeptUntilReleased: answer buffers are reused once released, never before:
// images still held keep their bytes while later answers come and go.
func TestImagesKeptUntilReleased(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	for _, id := range []string{"core", "titan"} { // one image per call; several in one call
		t.Run(id, func(t *testing.T) {
			m := newModel(t, client, id, bedrock.Options{})
			type held struct {
				gen  *easel.Generation
				want [][]byte
			}
			var kept []held
			for i := range 6 {
				r := &easel.GenerateRequest{Prompt: fmt.Sprintf("picture %d", i), Seed: seed(uint64(i + 1))}
				if id == "titan" {
					r.N, r.Width, r.Height = 2, 384, 576
				}
				g, err := m.Generate(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				h := held{gen: g}
				for _, img := range g.Images {
					if img.Release == nil {
						t.Fatalf("image without Release: the answer buffer would never be reused")
					}
					h.want = append(h.want, bytes.Clone(img.Data))
				}
				if i%2 == 0 {
					g.Release() // may be reused by the next answers
					g.Release() // twice is harmless
					continue
				}
				kept = append(kept, h)
			}
			for _, h := range kept {
				for j, img := range h.gen.Images {
					if !bytes.Equal(img.Data, h.want[j]) {
						t.Errorf("an image still held changed while later answers were read")
					}
				}
				h.gen.Release()
			}
		})
	}
}
