package offline

import (
	"math"
	"math/bits"
)

// input is one picture to draw.
type input struct {
	prompt, negative string
	style            string
	seed             uint64
	w, h             int
}

// scene holds the decisions shared by the drawing steps.
type scene struct {
	p    *prompt
	in   input
	w, h int
	// unit is the length sizes scale with: the shorter side, but at least a quarter of
	// the longer one, so that a very elongated picture holds a bounded number of
	// peaks, trees and tiles.
	unit  float64
	m     mood
	pal   *palette
	words *rng // draws from the words only: the same prompt keeps its look, whatever the style
	geo   *rng // draws from words, seed and negative prompt: shapes and positions
	c     *canvas
}

// mixSeed scrambles a number, so that neighbouring seeds start far apart.
func mixSeed(s uint64) uint64 {
	r := rng{s: s ^ 0x6a09e667f3bcc909}
	return r.next()
}

// paint draws the picture the input describes.
func paint(in input) *canvas {
	p := parsePrompt(in.prompt, in.negative)
	s := &scene{
		p: p, in: in, w: in.w, h: in.h,
		unit:  float64(max(min(in.w, in.h), max(in.w, in.h)/4)),
		words: newRNG(p.hash),
		geo:   newRNG(p.hash*0x2545f4914f6cdd1d ^ p.negHash*0x9e3779b97f4a7c15 ^ mixSeed(in.seed)),
		c:     newCanvas(in.w, in.h),
	}
	poster := s.wantsPoster()
	s.m = s.chooseMood(poster)
	s.pal = newPalette(&s.m)
	if poster {
		s.poster()
	} else {
		s.landscape()
	}
	if len(p.banned) > 0 {
		banHues(s.c, p.banned)
	}
	return s.c
}

const (
	posterish = fPoster | fGrid | fCircle | fSquare | fTriangle
	scenic    = fMountain | fHill | fDune | fWave | fWater | fForest | fCity | fSun | fMoon | fStar |
		fCloud | fPlanet | fRetro | fSnow | fBird
)

// wantsPoster decides between an abstract poster and a landscape: whichever the
// prompt's words lean to, and now and then a poster for words that say neither.
func (s *scene) wantsPoster() bool {
	ps := bits.OnesCount64(uint64(s.p.want & posterish &^ s.p.avoid))
	ss := bits.OnesCount64(uint64(s.p.want & scenic &^ s.p.avoid))
	if ps == 0 && ss == 0 {
		return s.words.chance(0.2)
	}
	return ps > ss
}

// chooseMood picks the time of day and the hues.
func (s *scene) chooseMood(poster bool) mood {
	p, words := s.p, s.words
	m := mood{chroma: 1, banned: p.banned}
	switch {
	case p.has(fRetro):
		m.time = timeRetro
	case p.has(fNight) && !p.has(fDay):
		m.time = timeNight
	case p.has(fGolden):
		m.time = timeGolden
	case p.has(fDay) || p.has(fSun):
		m.time = timeDay
	default:
		weights := []float64{0.5, 0.3, 0.2}
		if poster {
			weights = []float64{0.75, 0.1, 0.15}
		}
		for i, ft := range []feature{fDay, fGolden, fNight} {
			if !p.allows(ft) {
				weights[i] = 0
			}
		}
		if i := words.pick(weights); i > 0 {
			m.time = i
		}
	}
	if s.in.style == "sunset" && m.time != timeRetro {
		m.time = timeGolden
	}

	// Hues: colour words first, then the colours of the places named, then the hash.
	var defaults []float64
	switch m.time {
	case timeGolden:
		defaults = []float64{330, 300, 20, 280}
	case timeNight:
		defaults = []float64{265, 280, 230, 300}
	case timeRetro:
		defaults = []float64{295, 285}
	default:
		defaults = []float64{150, 140, 230, 60, 300, 190}
	}
	m.land = defaults[words.intn(len(defaults))] + words.between(-10, 10)
	m.sky = [...]float64{245, 295, 270, 290}[m.time] + words.between(-8, 8)
	m.accent = 85
	if m.time == timeRetro {
		m.accent = [...]float64{330, 195}[words.intn(2)]
	}
	switch {
	case len(p.hues) > 0:
		m.land = p.hues[0]
		m.accent = p.hues[0]
		if len(p.hues) > 1 {
			m.sky, m.accent = p.hues[1], p.hues[1]
		}
	case len(p.tints) > 0:
		m.land = p.tints[0]
	}
	m.land += s.geo.between(-6, 6)
	m.sky += s.geo.between(-6, 6)
	m.water = m.sky - 8
	if p.has(fWave) && len(p.hues) > 0 {
		m.water = p.hues[0]
	}

	switch {
	case p.has(fMono):
		m.mono, m.monoAccent = true, len(p.hues) > 0
	case p.has(fPastel):
		m.chroma, m.lift = 0.6, 0.3
	case p.has(fMuted):
		m.chroma = 0.45
	case p.has(fVivid):
		m.chroma = 1.35
	}
	switch s.in.style {
	case "vivid":
		m.chroma, m.lift, m.mono = 1.45, 0, false
	case "pastel":
		m.chroma, m.lift, m.mono = 0.6, 0.32, false
	case "noir":
		m.mono, m.monoAccent = true, len(p.hues) > 0
	case "sunset":
		m.sky = 295
		if len(p.hues) == 0 {
			m.land = 330
		}
	case "ocean":
		m.land, m.sky, m.water, m.accent = 225, 215, 228, 190
	case "forest":
		m.land, m.sky, m.water, m.accent = 150, 190, 185, 95
	}
	return m
}

// terrainKinds lists the land the prompt names, far to near; when it names none, the
// words' hash picks one.
func (s *scene) terrainKinds() []int {
	p := s.p
	var ks []int
	for _, e := range []struct {
		ft   feature
		kind int
	}{{fMountain, kMountain}, {fCity, kCity}, {fDune, kDune}, {fHill, kHill}, {fForest, kForest}, {fWave, kWave}} {
		if p.has(e.ft) {
			ks = append(ks, e.kind)
		}
	}
	if len(ks) == 1 && ks[0] == kForest {
		// A forest reads better with hills or mountains behind it.
		switch {
		case p.allows(fMountain) && s.words.chance(0.5):
			ks = []int{kMountain, kForest}
		case p.allows(fHill):
			ks = []int{kHill, kForest}
		}
	}
	if len(ks) == 1 && ks[0] == kMountain && s.m.time != timeRetro && p.allows(fHill) && !p.has(fWater) {
		// Foothills in front keep the nearest layers from turning into a heap of peaks.
		ks = append(ks, kHill)
	}
	if len(ks) > 0 || s.m.time == timeRetro {
		if len(ks) == 0 && p.allows(fMountain) {
			ks = []int{kMountain}
		}
		return ks
	}
	if p.has(fPlanet) {
		if s.words.chance(0.6) && p.allows(fHill) {
			return []int{kHill}
		}
		return nil
	}
	kindsByWeight := []struct {
		ft   feature
		kind int
		w    float64
	}{{fMountain, kMountain, 0.3}, {fHill, kHill, 0.22}, {fDune, kDune, 0.1}, {fForest, kForest, 0.2}, {fCity, kCity, 0.1}, {fWave, kWave, 0.18}}
	weights := make([]float64, len(kindsByWeight))
	for i, e := range kindsByWeight {
		if p.allows(e.ft) {
			weights[i] = e.w
		}
	}
	if i := s.words.pick(weights); i >= 0 {
		ks = append(ks, kindsByWeight[i].kind)
		// Now and then a second kind in front: hills or a forest below mountains.
		if ks[0] == kMountain && s.words.chance(0.5) {
			if p.allows(fForest) && s.words.chance(0.5) {
				ks = append(ks, kForest)
			} else if p.allows(fHill) {
				ks = append(ks, kHill)
			}
		}
	}
	return ks
}

// planets draws a ringed planet and perhaps a small moon.
func (s *scene) planets(horizon float64, lightLeft bool) {
	geo, m := s.geo, &s.m
	lx := 1.0
	if lightLeft {
		lx = -1
	}
	hue := m.land
	if len(s.p.hues) == 0 {
		hue = m.sky + geo.between(-60, 60)
	}
	pl := planet{
		x: float64(s.w) * geo.between(0.25, 0.75), y: horizon * geo.between(0.3, 0.55),
		r:    s.unit * geo.between(0.14, 0.22),
		tilt: geo.between(-0.45, 0.45), ring: geo.chance(0.75),
		bands: geo.between(6, 14), phase: geo.between(0, 7),
		base: m.c(0.62, 0.12, hue), alt: m.c(0.78, 0.1, hue+40),
	}
	drawPlanet(s.c, s.pal, &pl, lx)
	if geo.chance(0.6) {
		moon := planet{
			x: float64(s.w) * geo.between(0.1, 0.9), y: horizon * geo.between(0.1, 0.4),
			r: s.unit * geo.between(0.025, 0.05), bands: 3, phase: geo.between(0, 7),
			base: m.c(0.8, 0.03, hue+180), alt: m.c(0.7, 0.04, hue+180),
		}
		if math.Hypot(moon.x-pl.x, moon.y-pl.y) > pl.r*2.6 {
			drawPlanet(s.c, s.pal, &moon, lx)
		}
	}
}
