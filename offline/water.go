package offline

import "math"

// drawLake turns everything below the horizon into still water that mirrors what is
// above it, broken into slightly shifted strips, and tinted deeper towards the viewer.
func drawLake(c *canvas, p *palette, rnd *rng, horizon float64, unit float64) {
	hz := int(math.Ceil(horizon))
	top, deep := p.water.rgb().f(), p.waterDeep.rgb().f()
	phase := rnd.between(0, 2*math.Pi)
	strip := math.Max(unit*0.006, 2)
	for y := hz; y < c.h; y++ {
		d := y - hz
		t := float64(d) / math.Max(float64(c.h-hz), 1)
		src := hz - 1 - d
		if src < 0 {
			src = 0
		}
		// Each strip is shifted a little, more so nearer the viewer.
		k := math.Floor(float64(d) / strip)
		shift := int(math.Round(math.Sin(k*1.7+phase) * unit * 0.002 * (0.3 + 1.5*t)))
		tint := top.mix(deep, float32(t))
		alpha := float32(0.35 + 0.5*t)
		for x := range c.w {
			sx := min(max(x+shift, 0), c.w-1)
			s := c.get(c.at(sx, src))
			c.set(c.at(x, y), rgb{
				uint8(s.R + (tint.R-s.R)*alpha + 0.5),
				uint8(s.G + (tint.G-s.G)*alpha + 0.5),
				uint8(s.B + (tint.B-s.B)*alpha + 0.5),
			})
		}
	}
	// A bright line where water meets land.
	c.capsule(0, horizon+0.5, float64(c.w), horizon+0.5, math.Max(unit*0.0012, 0.5), p.foam.rgb().f(), 0.35)
}

// drawShimmer adds short horizontal glints on water, gathered under sunX when the sun
// or moon is up (sunX < 0: none).
func drawShimmer(c *canvas, p *palette, rnd *rng, horizon, sunX, unit float64, n int, alpha float32) {
	col := mix(p.foam, p.sun, 0.5).rgb().f()
	for range n {
		v := rnd.float()
		y := horizon + (float64(c.h)-horizon)*v*v + 2
		depth := (y - horizon) / math.Max(float64(c.h)-horizon, 1)
		x := rnd.between(0, float64(c.w))
		a := alpha * float32(rnd.between(0.3, 0.8))
		if sunX >= 0 && rnd.chance(0.6) {
			x = sunX + rnd.between(-1, 1)*unit*(0.03+0.12*depth)
			a = alpha
		}
		half := unit * (0.01 + 0.05*depth) * rnd.between(0.4, 1)
		th := math.Max(unit*(0.0008+0.003*depth), 0.45)
		c.capsule(x-half, y, x+half, y, th, col, a)
	}
}

// drawSea fills the water below the horizon with a plain gradient; wave layers go on
// top of it.
func drawSea(c *canvas, p *palette, horizon float64) {
	hz := int(math.Ceil(horizon))
	top := mix(p.water, p.horizon(), 0.35)
	for y := hz; y < c.h; y++ {
		t := float64(y-hz) / math.Max(float64(c.h-hz), 1)
		c.fillRow(y, 0, c.w, mix(top, p.waterDeep, t).rgb())
	}
}

// drawFloor draws the retro neon grid that runs from the viewer to the horizon.
func drawFloor(c *canvas, p *palette, rnd *rng, horizon, unit float64) {
	hz := int(math.Ceil(horizon))
	depth := float64(c.h) - horizon
	if depth < 2 {
		return
	}
	line := p.accent.rgb().f()
	cx := float64(c.w) * rnd.between(0.45, 0.55)
	spacing := unit * rnd.between(0.07, 0.11) / depth // world units per screen pixel at the bottom
	phase := rnd.float()
	for y := hz; y < c.h; y++ {
		py := float64(y) + 0.5
		dz := py - horizon // proportional to 1/distance
		t := dz / depth
		base := mix(p.floor[0], p.floor[1], t).rgb().f()
		thick := math.Max(unit*0.0022*t, 0.35)
		fade := float32(smoothstep(0, 0.18, t))
		// Horizontal lines sit at distances 1, 2, 3... (shifted by phase): row z = depth/dz.
		z := depth / dz
		zLine := math.Floor(z-phase+0.5) + phase
		yLine := horizon + depth/zLine
		hd := math.Abs(py - yLine)
		hCov := math.Min(clamp(thick-hd+0.5, 0, 1)+0.35*math.Max(0, 1-hd/(thick*6+1)), 1)
		// Vertical lines: world x = (x-cx)/dz, a line every spacing units, so every
		// gap pixels on this row.
		gap := spacing * dz
		reach := thick*6 + 2
		pixel := func(x int) rgb {
			wx := (float64(x) + 0.5 - cx) / gap
			vd := math.Abs(wx-math.Floor(wx+0.5)) * gap
			vCov := clamp(thick-vd+0.5, 0, 1) + 0.35*math.Max(0, 1-vd/(thick*6+1))
			col := base.mix(line, float32(math.Min(math.Max(hCov, vCov), 1))*fade)
			return rgb{uint8(col.R + 0.5), uint8(col.G + 0.5), uint8(col.B + 0.5)}
		}
		if gap < 2*reach+2 {
			for x := range c.w {
				c.set(c.at(x, y), pixel(x))
			}
			continue
		}
		// Lines far apart: fill the row, then redraw the pixels near each line.
		col := base.mix(line, float32(hCov)*fade)
		c.fillRow(y, 0, c.w, rgb{uint8(col.R + 0.5), uint8(col.G + 0.5), uint8(col.B + 0.5)})
		k0 := math.Floor((-cx - reach) / gap)
		for k := k0; cx+k*gap-reach < float64(c.w); k++ {
			lx := cx + k*gap
			x0, x1 := c.colRange(lx-reach, lx+reach)
			for x := x0; x <= x1; x++ {
				c.set(c.at(x, y), pixel(x))
			}
		}
	}
	// The horizon glows.
	glow := p.accent.rgb().f()
	for y := max(hz-int(unit*0.02), 0); y < min(hz+int(unit*0.03), c.h); y++ {
		d := math.Abs(float64(y) + 0.5 - horizon)
		a := float32(0.5 * math.Max(0, 1-d/(unit*0.025)))
		if a <= 0 {
			continue
		}
		for x := range c.w {
			c.blend(c.at(x, y), glow, a*a)
		}
	}
}
