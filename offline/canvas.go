package offline

import "math"

// canvas is an RGB picture, three bytes a pixel, row after row. Drawing writes into
// pix directly: no per-pixel interface calls, no allocations in the pixel loops.
type canvas struct {
	w, h int
	pix  []uint8
}

func newCanvas(w, h int) *canvas { return &canvas{w: w, h: h, pix: make([]uint8, 3*w*h)} }

// at returns the offset of pixel (x, y) in pix.
func (c *canvas) at(x, y int) int { return 3 * (y*c.w + x) }

// fillRow paints pixels x0..x1-1 of row y.
func (c *canvas) fillRow(y, x0, x1 int, col rgb) {
	x0, x1 = max(x0, 0), min(x1, c.w)
	if y < 0 || y >= c.h || x0 >= x1 {
		return
	}
	row := c.pix[c.at(x0, y):c.at(x1, y)]
	row[0], row[1], row[2] = col.R, col.G, col.B
	for n := 3; n < len(row); n *= 2 {
		copy(row[n:], row[:n])
	}
}

// fillRect paints the pixels of [x0, x1) × [y0, y1).
func (c *canvas) fillRect(x0, y0, x1, y1 int, col rgb) {
	for y := max(y0, 0); y < min(y1, c.h); y++ {
		c.fillRow(y, x0, x1, col)
	}
}

// set writes one pixel at offset i.
func (c *canvas) set(i int, col rgb) {
	p := c.pix[i : i+3 : i+3]
	p[0], p[1], p[2] = col.R, col.G, col.B
}

// blend mixes col into the pixel at offset i with opacity a (0..1).
func (c *canvas) blend(i int, col frgb, a float32) {
	p := c.pix[i : i+3 : i+3]
	r, g, b := float32(p[0]), float32(p[1]), float32(p[2])
	p[0] = uint8(r + (col.R-r)*a + 0.5)
	p[1] = uint8(g + (col.G-g)*a + 0.5)
	p[2] = uint8(b + (col.B-b)*a + 0.5)
}

// get returns the pixel at offset i.
func (c *canvas) get(i int) frgb {
	return frgb{float32(c.pix[i]), float32(c.pix[i+1]), float32(c.pix[i+2])}
}

// rowRange clips the rows y0..y1 (floats, inclusive ends) to the canvas.
func (c *canvas) rowRange(y0, y1 float64) (int, int) {
	return max(int(math.Floor(y0)), 0), min(int(math.Ceil(y1)), c.h-1)
}

// colRange clips the columns x0..x1 to the canvas.
func (c *canvas) colRange(x0, x1 float64) (int, int) {
	return max(int(math.Floor(x0)), 0), min(int(math.Ceil(x1)), c.w-1)
}

// disc draws an anti-aliased disc. shade gives the colour and opacity of each row, so
// one call draws a gradient sun or a sun cut by stripes.
func (c *canvas) disc(cx, cy, r float64, shade func(y int) (frgb, float32)) {
	y0, y1 := c.rowRange(cy-r-1, cy+r+1)
	for y := y0; y <= y1; y++ {
		dy := float64(y) + 0.5 - cy
		outer := (r + 0.5) * (r + 0.5)
		if dy*dy >= outer {
			continue
		}
		col, a := shade(y)
		if a <= 0 {
			continue
		}
		half := math.Sqrt(outer - dy*dy)
		inner := -1.0
		if r > 0.5 && dy*dy < (r-0.5)*(r-0.5) {
			inner = math.Sqrt((r-0.5)*(r-0.5) - dy*dy)
		}
		x0, x1 := c.colRange(cx-half-1, cx+half+1)
		for x := x0; x <= x1; x++ {
			dx := float64(x) + 0.5 - cx
			cov := a
			if math.Abs(dx) > inner {
				d := math.Sqrt(dx*dx + dy*dy)
				cov *= clamp32(float32(r - d + 0.5))
				if cov <= 0 {
					continue
				}
			}
			c.blend(c.at(x, y), col, cov)
		}
	}
}

// halo is one ring of a glow: opacity strength at the centre, none at radius r.
type halo struct{ r, strength float64 }

// glow brightens a round area softly towards col: the sum of its halos (up to four),
// each falling off smoothly, as (1-d²/r²)³, to nothing at its radius.
func (c *canvas) glow(cx, cy float64, col frgb, halos ...halo) {
	outer := 0.0
	for _, h := range halos {
		// Where a halo's opacity falls under half a level, it changes no pixel.
		tMin := math.Cbrt(1 / (512 * h.strength))
		if tMin < 1 {
			outer = max(outer, h.r*math.Sqrt(1-tMin))
		}
	}
	var inv [4]float64
	for k, h := range halos[:min(len(halos), len(inv))] {
		inv[k] = 1 / (h.r * h.r)
	}
	cr, cg, cb := int32(col.R), int32(col.G), int32(col.B)
	y0, y1 := c.rowRange(cy-outer, cy+outer)
	for y := y0; y <= y1; y++ {
		dy := float64(y) + 0.5 - cy
		if dy*dy >= outer*outer {
			continue
		}
		half := math.Sqrt(outer*outer - dy*dy)
		x0, x1 := c.colRange(cx-half, cx+half)
		i := c.at(x0, y)
		for x := x0; x <= x1; x, i = x+1, i+3 {
			dx := float64(x) + 0.5 - cx
			d2 := dx*dx + dy*dy
			a := 0.0
			for k, h := range halos[:min(len(halos), len(inv))] {
				if t := 1 - d2*inv[k]; t > 0 {
					a += h.strength * t * t * t
				}
			}
			// Fixed-point blend: a in 1/65536ths.
			ai := int32(min(a, 1) * 65536)
			if ai < 128 {
				continue
			}
			p := c.pix[i : i+3 : i+3]
			r, g, b := int32(p[0]), int32(p[1]), int32(p[2])
			p[0] = uint8(r + (cr-r)*ai>>16)
			p[1] = uint8(g + (cg-g)*ai>>16)
			p[2] = uint8(b + (cb-b)*ai>>16)
		}
	}
}

// capsule draws a segment with round ends, anti-aliased.
func (c *canvas) capsule(ax, ay, bx, by, r float64, col frgb, alpha float32) {
	y0, y1 := c.rowRange(min(ay, by)-r-1, max(ay, by)+r+1)
	x0, x1 := c.colRange(min(ax, bx)-r-1, max(ax, bx)+r+1)
	vx, vy := bx-ax, by-ay
	ll := vx*vx + vy*vy
	for y := y0; y <= y1; y++ {
		py := float64(y) + 0.5
		for x := x0; x <= x1; x++ {
			px := float64(x) + 0.5
			t := 0.0
			if ll > 0 {
				t = clamp(((px-ax)*vx+(py-ay)*vy)/ll, 0, 1)
			}
			dx, dy := px-ax-t*vx, py-ay-t*vy
			cov := clamp32(float32(r - math.Sqrt(dx*dx+dy*dy) + 0.5))
			if cov > 0 {
				c.blend(c.at(x, y), col, cov*alpha)
			}
		}
	}
}
