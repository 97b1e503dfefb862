package offline

import (
	"math"
)

// drawSky fills the picture with the sky's gradient, top to horizon; below the horizon
// it keeps the horizon's colour. bands > 0 paints it as that many flat stripes.
func drawSky(c *canvas, p *palette, horizon float64, bands int) {
	var last rgb
	lastT := -1.0
	for y := 0; y < c.h; y++ {
		t := clamp((float64(y)+0.5)/horizon, 0, 1)
		if bands > 0 {
			t = math.Min(math.Floor(t*float64(bands))/float64(bands-1), 1)
		}
		if t != lastT {
			last, lastT = along(t, p.sky).rgb(), t
		}
		c.fillRow(y, 0, c.w, last)
	}
}

// body is the sun or the moon.
type body struct {
	x, y, r float64
	moon    bool
	// stripes cut the lower half of a retro sun.
	stripes int
}

// drawBody draws the sun or the moon in its halo.
func drawBody(c *canvas, p *palette, b *body, rnd *rng, unit float64) {
	glow := p.glow.rgb().f()
	// A big sun keeps a halo about as wide as a small one's.
	c.glow(b.x, b.y, glow, halo{min(b.r*3.6, b.r+unit*0.3), p.glowAlpha * 0.55}, halo{min(b.r*1.9, b.r+unit*0.12), p.glowAlpha})
	top, low := p.sun.rgb().f(), p.sunLow.rgb().f()
	switch {
	case b.moon:
		c.disc(b.x, b.y, b.r, func(int) (frgb, float32) { return top, 1 })
		// A few soft craters make a moon of the white disc.
		crater := mix(p.sun, p.sky[0], 0.18).rgb().f()
		for range 3 + rnd.intn(3) {
			a := rnd.between(0, 2*math.Pi)
			d := b.r * rnd.between(0.1, 0.6)
			cr := b.r * rnd.between(0.1, 0.24)
			c.disc(b.x+d*math.Cos(a), b.y+d*math.Sin(a), cr, func(int) (frgb, float32) { return crater, 0.55 })
		}
	case b.stripes > 0:
		// Gaps widen towards the bottom, like an 80s poster sun.
		n := b.stripes
		c.disc(b.x, b.y, b.r, func(y int) (frgb, float32) {
			t := (float64(y) + 0.5 - (b.y - b.r)) / (2 * b.r)
			col := top.mix(low, float32(clamp(t, 0, 1)))
			start := b.y - b.r*0.05
			if float64(y)+1 <= start {
				return col, 1
			}
			u := (float64(y) + 0.5 - start) / (b.y + b.r - start) // 0..1 down the lower half
			k := math.Floor(u * float64(n))
			gap := (k + 1) / float64(n+1) * 0.75 // fraction of this band that is gap
			in := u*float64(n) - k
			pxBand := (b.y + b.r - start) / float64(n)
			// Coverage of this row by the solid part of the band, anti-aliased.
			solid := clamp((1-gap-in)*pxBand+0.5, 0, 1)
			return col, float32(solid)
		})
	default:
		c.disc(b.x, b.y, b.r, func(y int) (frgb, float32) {
			t := (float64(y) + 0.5 - (b.y - b.r)) / (2 * b.r)
			return top.mix(low, float32(clamp(t, 0, 1))), 1
		})
	}
}

// drawStars scatters stars above maxY; a few bright ones get a glow and a sparkle.
func drawStars(c *canvas, p *palette, rnd *rng, maxY float64, count int, unit float64) {
	col := p.star.rgb().f()
	s := unit / 1024
	for range count {
		x := rnd.between(0, float64(c.w))
		// More stars high up, fewer near the horizon's haze.
		v := rnd.float()
		y := v * v * maxY
		fade := float32(1 - 0.8*v*v)
		r := s * rnd.between(0.5, 1.5)
		bright := float32(rnd.between(0.45, 1)) * fade
		if rnd.chance(0.05) {
			r *= 1.6
			c.glow(x, y, col, halo{r * 7, 0.35 * float64(bright)})
			c.capsule(x-r*5, y, x+r*5, y, 0.35*s+0.2, col, 0.6*bright)
			c.capsule(x, y-r*5, x, y+r*5, 0.35*s+0.2, col, 0.6*bright)
		}
		c.disc(x, y, r, func(int) (frgb, float32) { return col, bright })
	}
}

// cloud is a flat cartoon cloud: a rounded base with puffs on top and a flat bottom.
type cloud struct {
	x, y, w, h float64
	puffs      [][3]float64 // x, y, r
}

// newCloud shapes a cloud w pixels wide whose base sits at (x, y).
func newCloud(rnd *rng, x, y, w float64) cloud {
	h := w * rnd.between(0.22, 0.3)
	cl := cloud{x: x, y: y, w: w, h: h}
	n := 2 + rnd.intn(3)
	for i := range n {
		t := (float64(i) + 0.5) / float64(n)
		px := x - w/2 + w*(0.2+0.6*t) + rnd.between(-0.05, 0.05)*w
		r := h * rnd.between(0.45, 0.8)
		if i == n/2 {
			r *= 1.25
		}
		cl.puffs = append(cl.puffs, [3]float64{px, y - h*0.15, r})
	}
	return cl
}

// coverage of a pixel centre by the cloud, anti-aliased. Squared distances settle
// most pixels (well inside a puff, or outside them all) without a square root.
func (cl *cloud) coverage(px, py float64) float64 {
	base := cl.h * 0.32
	bottom := cl.y + base*0.55 - py // flat bottom
	if bottom <= -0.5 {
		return 0
	}
	d := math.Inf(-1) // signed distance to the nearest edge, positive inside
	edge := func(d2, r float64) bool {
		if d2 <= (r-0.5)*(r-0.5) && r > 0.5 {
			d = math.Inf(1)
			return true
		}
		if d2 < (r+0.5)*(r+0.5) {
			d = math.Max(d, r-math.Sqrt(d2))
		}
		return false
	}
	ax, bx := cl.x-cl.w/2+base, cl.x+cl.w/2-base
	dx, dy := px-clamp(px, ax, bx), py-cl.y
	if !edge(dx*dx+dy*dy, base) {
		for _, pf := range cl.puffs {
			ex, ey := px-pf[0], py-pf[1]
			if edge(ex*ex+ey*ey, pf[2]) {
				break
			}
		}
	}
	return clamp(math.Min(d, bottom)+0.5, 0, 1)
}

// drawCloud paints a cloud, its lower part in its own shade.
func drawCloud(c *canvas, p *palette, cl *cloud, alpha float32) {
	lit, shade := p.cloud.rgb().f(), p.cloudShade.rgb().f()
	top := cl.y - cl.h*1.3
	y0, y1 := c.rowRange(top, cl.y+cl.h)
	x0, x1 := c.colRange(cl.x-cl.w/2-2, cl.x+cl.w/2+2)
	for y := y0; y <= y1; y++ {
		py := float64(y) + 0.5
		// The lower part of the cloud is in its own shade.
		col := lit.mix(shade, float32(smoothstep(cl.y-cl.h*0.2, cl.y+cl.h*0.3, py)))
		for x := x0; x <= x1; x++ {
			if cov := cl.coverage(float64(x)+0.5, py); cov > 0 {
				c.blend(c.at(x, y), col, float32(cov)*alpha)
			}
		}
	}
}

// drawBirds draws a loose flock of small "v" shapes.
func drawBirds(c *canvas, p *palette, rnd *rng, x, y, unit float64) {
	col := p.bird.rgb().f()
	n := 3 + rnd.intn(6)
	for range n {
		bx := x + rnd.between(-0.12, 0.12)*unit
		by := y + rnd.between(-0.06, 0.06)*unit
		s := unit * rnd.between(0.008, 0.016)
		lift := s * rnd.between(0.2, 0.6)
		th := math.Max(unit*0.0016, 0.6)
		c.capsule(bx-s, by-lift, bx, by, th, col, 1)
		c.capsule(bx, by, bx+s, by-lift*rnd.between(0.8, 1.2), th, col, 1)
	}
}

// planet is a banded gas giant with a tilted ring.
type planet struct {
	x, y, r   float64
	tilt      float64
	ring      bool
	bands     float64
	phase     float64
	base, alt lab
}

// drawPlanet draws a planet lit from the side lightX points to (-1 left, 1 right),
// its ring passing behind and then in front of it.
func drawPlanet(c *canvas, p *palette, pl *planet, lightX float64) {
	if pl.ring {
		drawRing(c, p, pl, false)
	}
	base, alt := pl.base.rgb().f(), pl.alt.rgb().f()
	shadow := p.sky[0].rgb().f()
	y0, y1 := c.rowRange(pl.y-pl.r-1, pl.y+pl.r+1)
	x0, x1 := c.colRange(pl.x-pl.r-1, pl.x+pl.r+1)
	// The day side is where the planet overlaps a second disc moved towards the light.
	sx, sy := pl.x+lightX*pl.r*0.45, pl.y-pl.r*0.3
	for y := y0; y <= y1; y++ {
		py := float64(y) + 0.5
		v := (py - pl.y) / pl.r
		for x := x0; x <= x1; x++ {
			px := float64(x) + 0.5
			dx, dy := px-pl.x, py-pl.y
			cov := clamp(pl.r-math.Sqrt(dx*dx+dy*dy)+0.5, 0, 1)
			if cov <= 0 {
				continue
			}
			u := dx / pl.r
			w := math.Sin(v*pl.bands + pl.phase + 0.35*math.Sin(u*3+v*5))
			col := base.mix(alt, float32(smoothstep(-0.25, 0.25, w)))
			ex, ey := px-sx, py-sy
			dark := smoothstep(pl.r*0.95, pl.r*1.12, math.Sqrt(ex*ex+ey*ey))
			col = col.mix(shadow, float32(0.6*dark))
			c.blend(c.at(x, y), col, float32(cov))
		}
	}
	if pl.ring {
		drawRing(c, p, pl, true)
	}
}

// drawRing draws the half of the ring behind the planet (front false) or before it.
func drawRing(c *canvas, p *palette, pl *planet, front bool) {
	a, b := pl.r*2.1, pl.r*0.5
	cosT, sinT := math.Cos(pl.tilt), math.Sin(pl.tilt)
	col := mix(pl.alt, p.star, 0.35).rgb().f()
	inner := mix(pl.base, p.star, 0.2).rgb().f()
	// The bounding box of the tilted ellipse.
	hw := math.Sqrt(a*a*cosT*cosT+b*b*sinT*sinT) + 1
	hh := math.Sqrt(a*a*sinT*sinT+b*b*cosT*cosT) + 1
	y0, y1 := c.rowRange(pl.y-hh, pl.y+hh)
	x0, x1 := c.colRange(pl.x-hw, pl.x+hw)
	ia, ib := 1/(a*a), 1/(b*b)
	for y := y0; y <= y1; y++ {
		py := float64(y) + 0.5 - pl.y
		for x := x0; x <= x1; x++ {
			px := float64(x) + 0.5 - pl.x
			u := px*cosT + py*sinT
			v := -px*sinT + py*cosT
			if (v > 0) != front {
				continue
			}
			e2 := u*u*ia + v*v*ib
			if e2 > 1.1 || e2 < 0.6 {
				continue
			}
			e := math.Sqrt(e2)
			// Distance in pixels, approximately, to the ring's two edges.
			d := math.Min(e-0.72, 1-e) * b * 1.4
			cov := clamp(d+0.5, 0, 1)
			if cov <= 0 {
				continue
			}
			band := inner.mix(col, float32(smoothstep(0.8, 0.9, e)))
			c.blend(c.at(x, y), band, float32(cov)*0.9)
		}
	}
}
