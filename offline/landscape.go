package offline

import (
	"math"
	"slices"
)

// landscape draws sky, light and layered land, far to near.
func (s *scene) landscape() {
	p, c, pal, geo, words := s.p, s.c, s.pal, s.geo, s.words
	w, h, unit := float64(s.w), float64(s.h), s.unit

	kinds := s.terrainKinds()
	sea := p.has(fWave) || slices.Contains(kinds, kWave)
	kinds = slices.DeleteFunc(kinds, func(k int) bool { return k == kWave })
	retro := s.m.time == timeRetro
	space := p.has(fPlanet)
	lake := p.has(fWater) && !sea && !retro
	if !lake && !sea && !retro && !space && p.allows(fWater) && len(kinds) > 0 &&
		(kinds[0] == kMountain || kinds[0] == kCity) && words.chance(0.25) {
		lake = true
	}

	var horizon float64
	switch {
	case space:
		horizon = h * geo.between(0.72, 0.82)
	case sea:
		horizon = h * geo.between(0.45, 0.58)
	case retro:
		horizon = h * geo.between(0.55, 0.62)
	case lake:
		horizon = h * geo.between(0.5, 0.6)
	default:
		horizon = h * geo.between(0.48, 0.62)
	}

	// The sun's (or moon's) side sets where the light comes from.
	b := s.chooseBody(horizon, space)
	lightLeft := words.chance(0.5)
	if b != nil {
		lightLeft = b.x < w/2
	}
	s.sky(horizon, b, space, lightLeft)

	middle := sea || lake || retro
	far, near := s.planLayers(kinds, horizon, middle, lake, sea, lightLeft)
	g := newGround(s.w, s.h)
	// Layers below the horizon or a nearer layer are hidden: draw them only down to
	// where the water, the floor or the next layers cover everything.
	bottom := s.h
	if middle {
		bottom = int(math.Ceil(horizon)) + 1
	}
	s.drawLayers(far, g, bottom)
	switch {
	case lake:
		drawLake(c, pal, geo.fork(), horizon, unit)
		sunX := -1.0
		if b != nil {
			sunX = b.x
		}
		drawShimmer(c, pal, geo.fork(), horizon, sunX, unit, int(30*w/unit), 0.55)
		g.cover(float32(horizon))
	case sea:
		drawSea(c, pal, horizon)
		g.cover(float32(horizon))
	case retro:
		drawFloor(c, pal, geo.fork(), horizon, unit)
	}
	s.drawLayers(near, g, s.h)
	if sea && b != nil {
		drawShimmer(c, pal, geo.fork(), horizon, b.x, unit, int(24*w/unit), 0.7)
	}
}

// chooseBody places the sun, the moon, or nothing.
func (s *scene) chooseBody(horizon float64, space bool) *body {
	p, geo, words := s.p, s.geo, s.words
	w, unit := float64(s.w), s.unit
	night := s.m.time == timeNight
	var b *body
	switch {
	case s.m.time == timeRetro && p.allows(fSun):
		b = &body{r: unit * geo.between(0.2, 0.26), stripes: 5 + geo.intn(3)}
		b.x, b.y = w*geo.between(0.35, 0.65), horizon-b.r*geo.between(0.25, 0.55)
	case night && (p.has(fMoon) || (p.allows(fMoon) && !space && words.chance(0.7))):
		b = &body{r: unit * geo.between(0.05, 0.09), moon: true}
		b.x, b.y = w*geo.between(0.18, 0.82), horizon*geo.between(0.18, 0.45)
	case !night && (p.has(fSun) || (p.allows(fSun) && words.chance(0.8))):
		b = &body{r: unit * geo.between(0.06, 0.11)}
		if s.m.time == timeGolden {
			b.r *= 1.35
		}
		b.x, b.y = w*geo.between(0.2, 0.8), horizon*geo.between(0.25, 0.6)
		if p.has(fStripe) {
			b.stripes = 4 + geo.intn(3)
		}
	}
	return b
}

// sky paints everything above the land: gradient, nebulae, stars, sun or moon,
// planets, clouds and birds.
func (s *scene) sky(horizon float64, b *body, space, lightLeft bool) {
	p, c, pal, geo, words := s.p, s.c, s.pal, s.geo, s.words
	w, h, unit := float64(s.w), float64(s.h), s.unit
	night, retro := s.m.time == timeNight, s.m.time == timeRetro

	bands := 0
	if p.has(fStripe) {
		bands = 7 + words.intn(5)
	}
	drawSky(c, pal, horizon, bands)
	if space {
		for range 2 {
			col := s.m.c(0.5, 0.14, s.m.sky+geo.between(-70, 70)).rgb().f()
			c.glow(w*geo.float(), horizon*geo.between(0.1, 0.8), col, halo{unit * geo.between(0.3, 0.45), 0.3})
		}
	}
	if (night || retro || space || p.has(fStar)) && p.allows(fStar) {
		density := 1.0 / 2600
		if retro {
			density /= 3
		}
		if !night && !retro {
			density /= 4 // golden or day: a few at the top
		}
		drawStars(c, pal, geo.fork(), horizon*0.95, int(w*horizon*density), unit)
	}
	if b != nil {
		drawBody(c, pal, b, geo.fork(), unit)
	}
	if space && p.allows(fPlanet) {
		s.planets(horizon, lightLeft)
	}
	if p.allows(fCloud) && !space {
		n := 0
		switch {
		case p.has(fCloud):
			n = 3 + geo.intn(4)
		case words.chance(0.55):
			n = 1 + geo.intn(3)
		}
		alpha := float32(0.95)
		if night {
			alpha = 0.8
		}
		n = int(math.Round(float64(n) * math.Sqrt(math.Max(w/h, 1))))
		for i := range n {
			// One cloud per slice of the sky, so they do not pile up.
			x := w * (float64(i) + geo.between(0.15, 0.85)) / float64(n)
			cl := newCloud(geo, x, horizon*geo.between(0.12, 0.7), unit*geo.between(0.14, 0.3))
			drawCloud(c, pal, &cl, alpha)
		}
	}
	if p.has(fBird) || (!night && p.allows(fBird) && words.chance(0.2)) {
		drawBirds(c, pal, geo.fork(), w*geo.between(0.2, 0.8), horizon*geo.between(0.25, 0.6), unit)
	}
}

// drawLayers paints layers far to near. Each is drawn, column by column, only down to
// the first row that the layers after it (or bottom) cover completely.
func (s *scene) drawLayers(ls []*layer, g ground, bottom int) {
	hidden := make([][]int32, len(ls))
	cover := make([]int32, s.w)
	for x := range cover {
		cover[x] = int32(bottom)
	}
	for i := len(ls) - 1; i >= 0; i-- {
		hidden[i] = slices.Clone(cover)
		for x, f := range ls[i].ridge.full {
			cover[x] = min(cover[x], f)
		}
	}
	for i, l := range ls {
		s.drawLayer(l, g, hidden[i])
	}
}
