package offline

import "math"

// sub is how many times each pixel column samples a layer's surface. Sampling inside
// the column anti-aliases steep edges (tree sides, building walls) as well as flat ones.
const sub = 4

// ridge is the upper edge of a terrain layer: everything below it is the layer.
type ridge struct {
	w, h int
	s    []float32 // y of the surface at x+(k+0.5)/sub, sub samples per column
	lo   []int32   // first row the layer touches, per column
	full []int32   // first row the layer covers completely, per column
	mid  []float32 // mean surface, per column
	top  int       // smallest lo
	// bottom is the smallest full row: rows from here down are covered everywhere.
	bottom int
}

// newRidge samples the surface f (the y of the land at x) across the picture.
func newRidge(w, h int, f func(x float64) float64) *ridge {
	r := &ridge{w: w, h: h, s: make([]float32, w*sub)}
	for i := range r.s {
		r.s[i] = float32(f((float64(i) + 0.5) / sub))
	}
	return r
}

// raise lifts the surface to g(x) wherever g is higher (a smaller y), for x0 <= x <= x1.
func (r *ridge) raise(x0, x1 float64, g func(x float64) float64) {
	i0 := max(int(math.Floor(x0*sub)), 0)
	i1 := min(int(math.Ceil(x1*sub)), len(r.s)-1)
	for i := i0; i <= i1; i++ {
		x := (float64(i) + 0.5) / sub
		if x < x0 || x > x1 {
			continue
		}
		if v := float32(g(x)); v < r.s[i] {
			r.s[i] = v
		}
	}
}

// finish computes the per-column summaries; call it after the last raise.
func (r *ridge) finish() {
	r.lo = make([]int32, r.w)
	r.full = make([]int32, r.w)
	r.mid = make([]float32, r.w)
	r.top, r.bottom = r.h, 0
	for x := range r.w {
		mn, mx, sum := float32(math.Inf(1)), float32(math.Inf(-1)), float32(0)
		for _, v := range r.s[x*sub : x*sub+sub] {
			mn, mx, sum = min(mn, v), max(mx, v), sum+v
		}
		lo := int32(clamp(math.Floor(float64(mn)), 0, float64(r.h)))
		full := int32(clamp(math.Ceil(float64(mx)), 0, float64(r.h)))
		r.lo[x], r.full[x], r.mid[x] = lo, full, sum/sub
		r.top = min(r.top, int(lo))
		r.bottom = max(r.bottom, int(full))
	}
}

// cover returns how much of pixel (x, y) lies below the surface.
func (r *ridge) cover(x, y int) float32 {
	yy := float32(y) + 1
	var c float32
	for _, v := range r.s[x*sub : x*sub+sub] {
		c += clamp32(yy - v)
	}
	return c / sub
}

// fill says how a layer is painted.
type fill struct {
	rows []frgb // body colour of each row
	// rim paints a band rimW pixels deep under the surface (foam on waves).
	rim  frgb
	rimW float32
	// cast is the opacity of the soft shadow the layer throws on the land behind it,
	// castW pixels tall, in castCol.
	cast    float32
	castW   float32
	castCol frgb
}

// ground tracks, per column, the highest land drawn so far, so that shadows fall on
// land and never on the sky.
type ground []float32

// newGround starts with no land in any column.
func newGround(w, h int) ground {
	g := make(ground, w)
	for i := range g {
		g[i] = float32(h) + 1
	}
	return g
}

// cover marks every column as land from row y down: water, a floor.
func (g ground) cover(y float32) {
	for x := range g {
		g[x] = min(g[x], y)
	}
}

// add records a layer's surface.
func (g ground) add(r *ridge) {
	for x, m := range r.mid {
		g[x] = min(g[x], m)
	}
}

// castShadow darkens the land just above the ridge.
func castShadow(c *canvas, r *ridge, f *fill, g ground) {
	if f.cast <= 0 || f.castW <= 0 {
		return
	}
	y0 := max(r.top-int(f.castW)-1, 0)
	for y := y0; y < min(r.bottom, c.h); y++ {
		py := float32(y) + 0.5
		for x := range c.w {
			d := r.mid[x] - py
			if d <= 0 || d >= f.castW || int32(y) >= r.full[x] {
				continue
			}
			behind := clamp32(py - g[x] + 0.5)
			if behind <= 0 {
				continue
			}
			t := 1 - d/f.castW
			c.blend(c.at(x, y), f.castCol, f.cast*t*t*behind)
		}
	}
}

// drawRidge paints the layer from its surface down, in each column x only above row
// hidden[x], where nearer layers will cover everything.
func drawRidge(c *canvas, r *ridge, f *fill, hidden []int32) {
	plain := f.rimW <= 0
	last := int32(0)
	for _, v := range hidden {
		last = max(last, v)
	}
	for y := r.top; y < min(int(last), c.h); y++ {
		base := f.rows[y]
		b8 := rgb{uint8(base.R + 0.5), uint8(base.G + 0.5), uint8(base.B + 0.5)}
		py := float32(y) + 0.5
		yy := int32(y)
		i := c.at(0, y)
		for x := 0; x < c.w; x, i = x+1, i+3 {
			if yy < r.lo[x] || yy >= hidden[x] {
				continue
			}
			a := float32(1)
			if yy < r.full[x] {
				if a = r.cover(x, y); a <= 0 {
					continue
				}
			}
			if plain {
				if a >= 1 {
					c.set(i, b8)
				} else {
					c.blend(i, base, a)
				}
				continue
			}
			col := base
			if d := py - r.mid[x]; d < f.rimW+0.5 {
				col = col.mix(f.rim, clamp32(f.rimW-d+0.5))
			}
			c.blend(i, col, a)
		}
	}
}
