package offline

import (
	"image"
	"image/color"
	"math"
	"runtime"
	"sync"
)

// This file holds the pixel plumbing of edits: decoded images to the RGB canvas and
// an alpha or mask plane, a separable Catmull-Rom resampler, and the small filters
// (dilation, box blur) masks need. Planes are one byte a pixel, row after row.

// fromImage converts a decoded image to an RGB canvas (colours not premultiplied) and
// its alpha plane; alpha is nil when every pixel is opaque.
func fromImage(img image.Image) (*canvas, []uint8) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	c := newCanvas(w, h)
	var alpha []uint8
	ensureAlpha := func() {
		if alpha == nil {
			alpha = make([]uint8, w*h)
			for i := range alpha {
				alpha[i] = 255
			}
		}
	}
	switch m := img.(type) {
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				p, q := row[4*x:4*x+4:4*x+4], c.pix[c.at(x, y):]
				q[0], q[1], q[2] = p[0], p[1], p[2]
				if p[3] != 255 {
					ensureAlpha()
					alpha[y*w+x] = p[3]
				}
			}
		}
	case *image.RGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				p, q := row[4*x:4*x+4:4*x+4], c.pix[c.at(x, y):]
				if a := p[3]; a == 255 {
					q[0], q[1], q[2] = p[0], p[1], p[2]
				} else {
					ensureAlpha()
					alpha[y*w+x] = a
					if a > 0 {
						q[0], q[1], q[2] = unpremul(p[0], a), unpremul(p[1], a), unpremul(p[2], a)
					}
				}
			}
		}
	case *image.YCbCr:
		fromYCbCr(c, m)
	case *image.NYCbCrA:
		fromYCbCr(c, &m.YCbCr)
		for y := range h {
			row := m.A[m.AOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				if row[x] != 255 {
					ensureAlpha()
					alpha[y*w+x] = row[x]
				}
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				q := c.pix[c.at(x, y):]
				q[0], q[1], q[2] = row[x], row[x], row[x]
			}
		}
	default: // paletted, 16-bit and other rare layouts: through the colour model
		for y := range h {
			for x := range w {
				p := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				q := c.pix[c.at(x, y):]
				q[0], q[1], q[2] = p.R, p.G, p.B
				if p.A != 255 {
					ensureAlpha()
					alpha[y*w+x] = p.A
				}
			}
		}
	}
	return c, alpha
}

func unpremul(v, a uint8) uint8 { return uint8(min(int(v)*255/int(a), 255)) }

// fromYCbCr converts a JPEG's (or lossy WebP's) planes to RGB.
func fromYCbCr(c *canvas, m *image.YCbCr) {
	b := m.Rect
	for y := range c.h {
		for x := range c.w {
			yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
			ci := m.COffset(b.Min.X+x, b.Min.Y+y)
			r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			q := c.pix[c.at(x, y):]
			q[0], q[1], q[2] = r, g, bl
		}
	}
}

// luma returns the canvas's luminance plane (BT.601 weights).
func luma(c *canvas) []uint8 {
	out := make([]uint8, c.w*c.h)
	for i, j := 0, 0; j < len(out); i, j = i+3, j+1 {
		out[j] = uint8((77*int(c.pix[i]) + 150*int(c.pix[i+1]) + 29*int(c.pix[i+2]) + 128) >> 8)
	}
	return out
}

// maskOf turns a decoded mask image into a plane: its luminance, where transparent
// mask pixels count as black (keep).
func maskOf(img image.Image) []uint8 {
	c, alpha := fromImage(img)
	m := luma(c)
	for i := range alpha {
		m[i] = uint8(int(m[i]) * int(alpha[i]) / 255)
	}
	return m
}

// bands runs fn over row ranges [y0, y1) of h rows on the available CPUs.
func bands(h int, fn func(y0, y1 int)) {
	n := min(runtime.GOMAXPROCS(0), 8, max(h/64, 1))
	if n <= 1 {
		fn(0, h)
		return
	}
	var wg sync.WaitGroup
	for k := range n {
		y0, y1 := h*k/n, h*(k+1)/n
		wg.Go(func() { fn(y0, y1) })
	}
	wg.Wait()
}

// taps are one output position's source pixels and fixed-point weights (sum 1<<14).
type taps struct {
	first int
	w     []int32
}

// catmullRom is the Catmull-Rom cubic (B=0, C=0.5), support 2.
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// kernelTaps computes the weights that map src samples onto dst samples. When
// shrinking, the kernel widens with the scale, so the result does not alias.
func kernelTaps(src, dst int) []taps {
	scale := float64(src) / float64(dst)
	spread := max(scale, 1)
	support := 2 * spread
	out := make([]taps, dst)
	for i := range out {
		centre := (float64(i)+0.5)*scale - 0.5
		first := int(math.Floor(centre - support + 1))
		last := int(math.Floor(centre + support))
		ws := make([]float64, 0, last-first+1)
		sum := 0.0
		for j := first; j <= last; j++ {
			v := catmullRom((float64(j) - centre) / spread)
			ws = append(ws, v)
			sum += v
		}
		t := taps{first: first, w: make([]int32, len(ws))}
		total := int32(0)
		for k, v := range ws {
			t.w[k] = int32(math.Round(v / sum * (1 << 14)))
			total += t.w[k]
		}
		t.w[len(ws)/2] += 1<<14 - total // exact unity: flat areas stay flat
		out[i] = t
	}
	return out
}

func clampIndex(j, n int) int { return max(0, min(j, n-1)) }

func clampByte(v int32) uint8 {
	v = (v + 1<<13) >> 14
	return uint8(max(0, min(v, 255)))
}

// resample scales ch-channel pixels (sw×sh) to dw×dh with a Catmull-Rom kernel,
// horizontally then vertically, in fixed point, on all CPUs.
func resample(src []uint8, sw, sh, ch, dw, dh int) []uint8 {
	xt, yt := kernelTaps(sw, dw), kernelTaps(sh, dh)
	// Horizontal pass: sh rows of dw pixels, kept with 8 bits of fraction so the
	// vertical pass does not round twice. Each source row is first copied into a
	// buffer padded with its edge pixels, so the taps need no bounds checks.
	pad := 0
	for _, t := range xt {
		pad = max(pad, -t.first, t.first+len(t.w)-sw)
	}
	mid := make([]int32, dw*sh*ch)
	bands(sh, func(y0, y1 int) {
		padded := make([]int32, (sw+2*pad)*ch)
		for y := y0; y < y1; y++ {
			row := src[y*sw*ch : (y+1)*sw*ch]
			for x := -pad; x < sw+pad; x++ {
				sx := clampIndex(x, sw)
				for c := range ch {
					padded[(x+pad)*ch+c] = int32(row[sx*ch+c])
				}
			}
			out := mid[y*dw*ch : (y+1)*dw*ch]
			for x, t := range xt {
				base := (t.first + pad) * ch
				for c := range ch {
					var acc int32
					p := padded[base+c:]
					for k, wt := range t.w {
						acc += wt * p[k*ch]
					}
					out[x*ch+c] = acc >> 6
				}
			}
		}
	})
	dst := make([]uint8, dw*dh*ch)
	stride := dw * ch
	bands(dh, func(y0, y1 int) {
		// Row by row of taps, accumulating whole rows: sequential memory, and loops
		// the compiler can keep free of bounds checks. The sum of |weights| is about
		// 1.2 × 2^14 and mid holds 16 bits, so int32 does not overflow.
		acc := make([]int32, stride)
		for y := y0; y < y1; y++ {
			t := yt[y]
			clear(acc)
			for k, wt := range t.w {
				j := clampIndex(t.first+k, sh)
				row := mid[j*stride : (j+1)*stride]
				row = row[:len(acc)]
				for i, v := range row {
					acc[i] += wt * v
				}
			}
			out := dst[y*stride : (y+1)*stride]
			out = out[:len(acc)]
			for i, a := range acc {
				v := (a + 1<<21) >> 22
				out[i] = uint8(max(0, min(v, 255)))
			}
		}
	})
	return dst
}

// resize returns c scaled to w×h.
func resize(c *canvas, w, h int) *canvas {
	if c.w == w && c.h == h {
		out := newCanvas(w, h)
		copy(out.pix, c.pix)
		return out
	}
	return &canvas{w: w, h: h, pix: resample(c.pix, c.w, c.h, 3, w, h)}
}

// dilate grows the non-zero area of a plane by r pixels (a square max filter),
// with van Herk/Gil-Werman running maxima: three comparisons a pixel, whatever r.
func dilate(p []uint8, w, h, r int) []uint8 {
	if r <= 0 {
		return p
	}
	tmp := make([]uint8, len(p))
	maxFilter(p, tmp, w, h, 1, w, r) // rows
	out := make([]uint8, len(p))
	maxFilter(tmp, out, h, w, w, 1, r) // columns
	return out
}

// maxFilter computes, along n lines of length l (element step step, line step
// lineStep), the maximum over a window of 2r+1.
func maxFilter(src, dst []uint8, l, n, step, lineStep, r int) {
	k := 2*r + 1
	bands(n, func(l0, l1 int) {
		pre, suf := make([]uint8, l+k), make([]uint8, l+k)
		for line := l0; line < l1; line++ {
			base := line * lineStep
			at := func(i int) uint8 { // the line padded with r zeros each side
				i -= r
				if i < 0 || i >= l {
					return 0
				}
				return src[base+i*step]
			}
			n := l + 2*r
			for i := range n {
				v := at(i)
				if i%k == 0 {
					pre[i] = v
				} else {
					pre[i] = max(pre[i-1], v)
				}
			}
			for i := n - 1; i >= 0; i-- {
				v := at(i)
				if i%k == k-1 || i == n-1 {
					suf[i] = v
				} else {
					suf[i] = max(suf[i+1], v)
				}
			}
			for i := range l { // window [i, i+2r] in padded coordinates
				dst[base+i*step] = max(suf[i], pre[i+2*r])
			}
		}
	})
}

// boxBlur blurs a plane with a (2r+1)² box, in two running-sum passes.
func boxBlur(p []uint8, w, h, r int) []uint8 {
	if r <= 0 {
		return p
	}
	tmp := make([]uint8, len(p))
	boxRows(p, tmp, w, h, 1, r)
	out := make([]uint8, len(p))
	boxCols(tmp, out, w, h, r)
	return out
}

// boxBlurRGB blurs an RGB canvas's pixels, channel by channel, into a new buffer.
func boxBlurRGB(c *canvas, r int) []uint8 {
	tmp, out := make([]uint8, len(c.pix)), make([]uint8, len(c.pix))
	boxRows(c.pix, tmp, c.w, c.h, 3, r)
	boxCols(tmp, out, 3*c.w, c.h, r)
	return out
}

// boxRows averages windows of 2r+1 pixels along each row of ch-channel pixels.
// Edges repeat the edge pixel.
func boxRows(src, dst []uint8, w, h, ch, r int) {
	d := int32(2*r + 1)
	bands(h, func(y0, y1 int) {
		line := make([]int32, w+2*r+1)
		for y := y0; y < y1; y++ {
			row, out := src[y*w*ch:(y+1)*w*ch], dst[y*w*ch:(y+1)*w*ch]
			for c := range ch {
				for i := -r; i < w+r+1; i++ {
					line[i+r] = int32(row[clampIndex(i, w)*ch+c])
				}
				var sum int32
				for _, v := range line[:d] {
					sum += v
				}
				for i := range w {
					out[i*ch+c] = uint8((sum + d/2) / d)
					sum += line[i+int(d)] - line[i]
				}
			}
		}
	})
}

// boxCols averages windows of 2r+1 rows down each column of rows n bytes long,
// streaming through the rows with one running sum per column (sequential memory).
func boxCols(src, dst []uint8, n, h, r int) {
	d := int32(2*r + 1)
	rowAt := func(y int) []uint8 { y = clampIndex(y, h); return src[y*n : (y+1)*n] }
	bands(h, func(y0, y1 int) {
		sum := make([]int32, n)
		for y := y0 - r; y <= y0+r; y++ {
			for i, v := range rowAt(y) {
				sum[i] += int32(v)
			}
		}
		for y := y0; y < y1; y++ {
			out := dst[y*n : (y+1)*n]
			out = out[:len(sum)]
			for i, s := range sum {
				out[i] = uint8((s + d/2) / d)
			}
			add, sub := rowAt(y+r+1), rowAt(y-r)
			add, sub = add[:len(sum)], sub[:len(sum)]
			for i := range sum {
				sum[i] += int32(add[i]) - int32(sub[i])
			}
		}
	})
}
