package bedrocktest

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"sync"
)

// renderKey identifies one rendered image.
type renderKey struct {
	prompt, negative string
	seed             uint64
	w, h             int
	format           string
}

// renderCache keeps recently rendered images so that repeated requests (benchmarks,
// retries) do not pay for rendering again. It is bounded: the oldest entry goes first.
type renderCache struct {
	mu    sync.Mutex
	max   int
	items map[renderKey][]byte
	order []renderKey
}

func newRenderCache(max int) *renderCache {
	return &renderCache{max: max, items: make(map[renderKey][]byte)}
}

func (c *renderCache) get(k renderKey, render func() ([]byte, error)) ([]byte, error) {
	if c.max <= 0 {
		return render()
	}
	c.mu.Lock()
	b, ok := c.items[k]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := render()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; !ok {
		if len(c.order) >= c.max {
			delete(c.items, c.order[0])
			c.order = c.order[1:]
		}
		c.items[k] = b
		c.order = append(c.order, k)
	}
	return b, nil
}

// NoisyPNG returns a w×h RGB PNG of smooth colour plus low-order noise that does
// not compress: at 1024×1024 it is about 1.5 MB, the size of a real model's
// photographic output, which makes it the payload of decode benchmarks.
func NoisyPNG(w, h int, seed uint64) ([]byte, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("noisy png: bad size %dx%d", w, h)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	x := seed | 1
	for i := 0; i < len(img.Pix); i += 4 {
		p := i / 4
		px, py := p%w, p/w
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		// 4+3+2 bits of noise on top of a gradient: about 1.5 bytes per pixel.
		img.Pix[i] = uint8(px*200/w) + uint8(x&15)
		img.Pix[i+1] = uint8(py*200/h) + uint8(x>>8&7)
		img.Pix[i+2] = uint8((px+py)*100/(w+h)) + uint8(x>>16&3)
		img.Pix[i+3] = 255
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("noisy png: %w", err)
	}
	return buf.Bytes(), nil
}
