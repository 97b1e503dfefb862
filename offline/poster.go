package offline

import "math"

// Tile shapes of the abstract poster.
const (
	shPlain = iota
	shCircle
	shHalf    // half disc standing on one side of the tile
	shQuarter // quarter disc filling a corner
	shRings
	shDots
	shSquare
	shDiamond
	shTriangle // the tile cut along a diagonal
	shStripes
	shArch
)

// tile is one cell of the poster and the shape on it; sdf measures signed distance
// from a shape's edge in pixels (negative inside).
type tile struct {
	kind           int
	x0, y0, x1, y1 float64
	cx, cy, r      float64
	nx, ny         float64 // a direction: diagonal normal, stripe direction
	period         float64
	bg, fg         frgb
}

func (t *tile) sdf(px, py float64) float64 {
	dx, dy := px-t.cx, py-t.cy
	switch t.kind {
	case shCircle, shHalf, shQuarter:
		return math.Sqrt(dx*dx+dy*dy) - t.r
	case shRings:
		d := math.Sqrt(dx*dx + dy*dy)
		ring := math.Abs(math.Mod(d, t.period)-t.period/2) - t.period/4
		return math.Max(ring, d-t.r)
	case shDots:
		ux := math.Mod(px-t.x0, t.period) - t.period/2
		uy := math.Mod(py-t.y0, t.period) - t.period/2
		return math.Sqrt(ux*ux+uy*uy) - t.period*0.22
	case shSquare:
		return math.Max(math.Abs(dx), math.Abs(dy)) - t.r
	case shDiamond:
		return (math.Abs(dx)+math.Abs(dy))*math.Sqrt2/2 - t.r*math.Sqrt2/2
	case shTriangle:
		return dx*t.nx + dy*t.ny
	case shStripes:
		v := dx*t.nx + dy*t.ny
		return math.Abs(math.Mod(v+1e4*t.period, t.period)-t.period/2) - t.period/4
	case shArch:
		// A disc on top of a rectangle, standing on the tile's bottom edge.
		if py < t.cy {
			return math.Sqrt(dx*dx+dy*dy) - t.r
		}
		return math.Max(math.Abs(dx)-t.r, py-t.y1+t.r*0.2)
	}
	return 1e9
}

// poster draws a grid of tiles, each with one bold shape and its soft shadow, on a
// paper margin.
func (s *scene) poster() {
	p, c, pal, words, geo := s.p, s.c, s.pal, s.words, s.geo
	w, h, unit := float64(s.w), float64(s.h), s.unit
	k := 2 + words.intn(3)
	if p.has(fGrid) {
		k += 1 + words.intn(2)
	}
	cols := max(1, int(math.Round(w/unit*float64(k))))
	rows := max(1, int(math.Round(h/unit*float64(k))))
	margin := math.Round(unit * 0.045)
	cw, ch := (w-2*margin)/float64(cols), (h-2*margin)/float64(rows)
	paper := pal.paper.rgb()
	c.fillRect(0, 0, s.w, s.h, paper)

	colours := []frgb{}
	for _, t := range pal.tiles {
		colours = append(colours, t.rgb().f())
	}
	colours = append(colours, pal.ink.rgb().f(), paper.f())
	weights := []float64{
		shPlain: 0.5, shCircle: 1, shHalf: 1, shQuarter: 1, shRings: 0.4, shDots: 0.3,
		shSquare: 0.6, shDiamond: 0.4, shTriangle: 1, shStripes: 0.6, shArch: 0.5,
	}
	boost := func(ft feature, kinds ...int) {
		for _, kd := range kinds {
			if p.has(ft) {
				weights[kd] *= 4
			}
			if !p.allows(ft) {
				weights[kd] = 0
			}
		}
	}
	boost(fCircle, shCircle, shHalf, shQuarter, shRings, shDots, shArch)
	boost(fSquare, shSquare, shDiamond)
	boost(fTriangle, shTriangle, shDiamond)
	boost(fStripe, shStripes)
	shadow := pal.shadow.rgb().f()
	off := unit * 0.01
	blur := unit * 0.018
	prev := make([]int, cols) // background index of the tile above, per column
	for i := range prev {
		prev[i] = -1
	}
	for j := range rows {
		left := -1
		for i := range cols {
			t := tile{
				x0: math.Round(margin + float64(i)*cw), y0: math.Round(margin + float64(j)*ch),
				x1: math.Round(margin + float64(i+1)*cw), y1: math.Round(margin + float64(j+1)*ch),
			}
			bg := geo.intn(len(colours))
			for bg == left || bg == prev[i] {
				bg = geo.intn(len(colours))
			}
			fg := geo.intn(len(colours))
			for fg == bg {
				fg = geo.intn(len(colours))
			}
			left, prev[i] = bg, bg
			t.bg, t.fg = colours[bg], colours[fg]
			t.kind = geo.pick(weights)
			if t.kind < 0 {
				t.kind = shPlain
			}
			s.shapeTile(&t, geo)
			drawTile(c, &t, shadow, off, blur)
		}
	}
}

// shapeTile places the tile's shape.
func (s *scene) shapeTile(t *tile, geo *rng) {
	w, h := t.x1-t.x0, t.y1-t.y0
	side := math.Min(w, h)
	t.cx, t.cy = (t.x0+t.x1)/2, (t.y0+t.y1)/2
	corner := geo.intn(4)
	cornerX := [...]float64{t.x0, t.x1, t.x1, t.x0}[corner]
	cornerY := [...]float64{t.y0, t.y0, t.y1, t.y1}[corner]
	switch t.kind {
	case shCircle:
		t.r = side * geo.between(0.28, 0.4)
	case shHalf:
		edge := geo.intn(4)
		t.cx = [...]float64{t.cx, t.x1, t.cx, t.x0}[edge]
		t.cy = [...]float64{t.y0, t.cy, t.y1, t.cy}[edge]
		t.r = side * 0.5
	case shQuarter:
		t.cx, t.cy, t.r = cornerX, cornerY, side
	case shRings:
		t.r = side * 0.42
		t.period = t.r / float64(2+geo.intn(3))
	case shDots:
		t.period = side / float64(3+geo.intn(3))
	case shSquare:
		t.r = side * geo.between(0.22, 0.34)
	case shDiamond:
		t.r = side * 0.42
	case shTriangle:
		nx, ny := t.cx-cornerX, t.cy-cornerY
		n := math.Hypot(nx, ny)
		t.nx, t.ny = nx/n, ny/n
	case shStripes:
		a := [...]float64{0, math.Pi / 2, math.Pi / 4, -math.Pi / 4}[geo.intn(4)]
		t.nx, t.ny = math.Cos(a), math.Sin(a)
		t.period = side / float64(3+geo.intn(3))
	case shArch:
		t.r = side * 0.3
		t.cy = t.y1 - side*0.45
	}
}

// drawTile paints a tile: background, the shape's soft shadow, the shape.
func drawTile(c *canvas, t *tile, shadow frgb, off, blur float64) {
	y0, y1 := int(t.y0), min(int(t.y1), c.h)
	x0, x1 := int(t.x0), min(int(t.x1), c.w)
	plain := t.kind == shPlain
	bg8 := rgb{uint8(t.bg.R + 0.5), uint8(t.bg.G + 0.5), uint8(t.bg.B + 0.5)}
	// Only stripes, dots and the diagonal cast no shadow: they are pattern, not objects.
	shadowed := t.kind != shStripes && t.kind != shDots && t.kind != shTriangle
	for y := y0; y < y1; y++ {
		if plain {
			c.fillRow(y, x0, x1, bg8)
			continue
		}
		py := float64(y) + 0.5
		for x := x0; x < x1; x++ {
			px := float64(x) + 0.5
			d := t.sdf(px, py)
			cov := float32(clamp(0.5-d, 0, 1))
			col := t.bg
			if shadowed && cov < 1 && d < blur+off*1.5 {
				ds := t.sdf(px-off, py-off*1.3)
				col = col.mix(shadow, float32(0.28*(1-smoothstep(-blur, blur, ds))))
			}
			if cov > 0 {
				col = col.mix(t.fg, cov)
			}
			c.set(c.at(x, y), rgb{uint8(col.R + 0.5), uint8(col.G + 0.5), uint8(col.B + 0.5)})
		}
	}
}
