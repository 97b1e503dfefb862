package bedrock

import (
	"testing"

	"github.com/easelhq/easel"
)

func TestClassOf(t *testing.T) {
	prevIdx, prevSize := 0, 0
	for _, n := range []int{1, 1 << 16, 1<<16 + 1, 100_000, 1 << 17, 1<<17 + 1, 2_070_000, 3 << 20, 1<<20*7 + 3, maxAnswer} {
		idx, size := classOf(n)
		if size < n || size > n+n/8+1<<16 {
			t.Errorf("classOf(%d) size %d: want at least n and at most 12.5%% (or 64 KiB) more", n, size)
		}
		if idx < prevIdx || size < prevSize || idx >= numClasses {
			t.Errorf("classOf(%d) = %d, %d after %d, %d: want increasing classes below %d", n, idx, size, prevIdx, prevSize, numClasses)
		}
		if i2, s2 := classOf(size); i2 != idx || s2 != size {
			t.Errorf("classOf(%d) = %d, %d, but classOf of that size = %d, %d", n, idx, size, i2, s2)
		}
		prevIdx, prevSize = idx, size
	}
}

func TestAnswerBufSharedByItsImages(t *testing.T) {
	var pool bufPool
	a := pool.get(2_070_000)
	a.b = append(a.b, "image one, image two"...)
	images := []easel.GeneratedImage{{Data: a.b[:9]}, {Data: a.b[11:]}}
	a.share(images)
	images[0].Release()
	if len(a.b) == 0 || a.refs.Load() != 1 {
		t.Fatalf("after releasing one image of two: %d refs, %d bytes; want the buffer kept", a.refs.Load(), len(a.b))
	}
	images[1].Release()
	if len(a.b) != 0 || a.refs.Load() != 0 {
		t.Fatalf("after releasing both images: %d refs, %d bytes; want the buffer back in the pool", a.refs.Load(), len(a.b))
	}
	// With no images (all filtered) it goes back at once.
	b := pool.get(100)
	b.b = append(b.b, 'x')
	b.share(nil)
	if len(b.b) != 0 {
		t.Errorf("a buffer with no images was not returned")
	}
}
