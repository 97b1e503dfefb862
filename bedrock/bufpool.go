package bedrock

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/easelhq/easel"
)

// An answer is read into one buffer of its announced size, decoded in place, and its
// images are handed up as subslices of it: the buffer is the only copy of the images
// until they are stored. Rather than leave ~2 MB per generation to the garbage
// collector, buffers come from size classes of a pool and go back to it when the
// caller releases the images (easel.Generation.Release, after the upload), so a busy
// server reuses the same few buffers instead of growing its heap to twice the live
// answers.

const (
	minClassShift  = 16 // the smallest class, 64 KiB
	classesPerStep = 8  // classes per doubling: at most 12.5% of a buffer is unused
	numClasses     = (26-minClassShift)*classesPerStep + 1
)

// classOf returns the size class of a buffer for n bytes and that class's size: the
// smallest of 64 KiB and (8+k)·2^(e-4) for k in 1..8 that is at least n.
func classOf(n int) (idx, size int) {
	if n <= 1<<minClassShift {
		return 0, 1 << minClassShift
	}
	e := bits.Len(uint(n - 1)) // 2^(e-1) < n <= 2^e
	step := 1 << (e - 4)
	k := (n + step - 1) / step // 9..16
	return (e-1-minClassShift)*classesPerStep + k - 8, k * step
}

// bufPool recycles answer buffers by size class. Buffers beyond the largest class
// (64 MiB, maxAnswer) are not kept.
type bufPool struct {
	classes [numClasses]sync.Pool
}

// answerBuf is one answer's buffer, shared by the images decoded into it.
type answerBuf struct {
	b    []byte
	refs atomic.Int32
	pool *bufPool
}

// get returns an empty buffer with room for at least n bytes.
func (p *bufPool) get(n int) *answerBuf {
	idx, size := classOf(n)
	if idx < numClasses {
		if v := p.classes[idx].Get(); v != nil {
			a := v.(*answerBuf)
			a.b = a.b[:0]
			return a
		}
	} else {
		size = n
	}
	return &answerBuf{b: make([]byte, 0, size), pool: p}
}

// put keeps a buffer for reuse in the largest class it can serve.
func (p *bufPool) put(a *answerBuf) {
	idx, size := classOf(cap(a.b))
	if size > cap(a.b) {
		idx--
	}
	if idx < 0 || idx >= numClasses {
		return
	}
	a.b = a.b[:0]
	p.classes[idx].Put(a)
}

// share hands the buffer to the images decoded into it: each image's Release drops one
// reference, and the last returns the buffer to the pool. With no images it goes back
// at once.
func (a *answerBuf) share(images []easel.GeneratedImage) {
	if len(images) == 0 {
		a.free()
		return
	}
	a.refs.Store(int32(len(images)))
	for i := range images {
		images[i].Release = a.release
	}
}

func (a *answerBuf) release() {
	if a.refs.Add(-1) == 0 {
		a.free()
	}
}

// free returns a buffer nothing refers to.
func (a *answerBuf) free() {
	if a.pool != nil {
		a.pool.put(a)
	}
}
