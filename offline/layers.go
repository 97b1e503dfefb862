package offline

import "math"

// planLayers makes the terrain layers: far ones stand on the horizon (or fill the
// view down to the bottom when there is no water or floor); near ones are the shore
// in front of a lake, or the waves of a sea.
func (s *scene) planLayers(kinds []int, horizon float64, middle, lake, sea bool, lightLeft bool) (far, near []*layer) {
	words := s.words
	h := float64(s.h)
	snow := s.p.has(fSnow) || (s.p.allows(fSnow) && s.m.time != timeRetro && words.chance(0.35))
	if !middle {
		if len(kinds) == 0 {
			return nil, nil
		}
		n := 3 + words.intn(3)
		for i := range n {
			u := float64(i) / float64(n-1)
			kind := kinds[min(i*len(kinds)/n, len(kinds)-1)]
			base := horizon + (h-horizon)*0.85*math.Pow(u, 1.15)
			far = append(far, s.newLayer(kind, u, base, s.amp(kind, u, horizon), horizon, snow && u < 0.5, lightLeft))
		}
		return far, nil
	}
	if len(kinds) > 0 {
		nf := 2 + words.intn(2)
		if sea {
			nf = 1 + words.intn(2)
		}
		for i := range nf {
			u := float64(i) / float64(nf)
			kind := kinds[min(i*len(kinds)/nf, len(kinds)-1)]
			amp := s.amp(kind, u, horizon)
			if sea {
				amp *= 0.45 // distant islands and coasts
			}
			far = append(far, s.newLayer(kind, u*0.6, horizon+1, amp, horizon, snow && i == 0, lightLeft))
		}
	}
	switch {
	case sea:
		n := 3 + words.intn(3)
		depth := h - horizon
		for j := range n {
			u := float64(j+1) / float64(n)
			base := horizon + depth*(0.1+0.9*math.Pow(u, 1.5))
			l := s.newLayer(kWave, u, base, depth*(0.025+0.07*u), horizon, false, lightLeft)
			near = append(near, l)
		}
	case lake && (s.p.has(fHill) || s.p.has(fForest) || words.chance(0.6)):
		kind := kHill
		if s.p.has(fForest) || (s.p.allows(fForest) && !s.p.has(fHill) && words.chance(0.5)) {
			kind = kForest
		}
		near = append(near, s.newLayer(kind, 1, h-(h-horizon)*0.06, (h-horizon)*0.3, horizon, false, lightLeft))
	}
	return far, near
}

// amp is how far a layer's land rises above its foot.
func (s *scene) amp(kind int, u, horizon float64) float64 {
	h := float64(s.h)
	switch kind {
	case kMountain:
		return horizon * 0.55 * (1 - 0.4*u)
	case kCity:
		return horizon * 0.42 * (1 - 0.3*u)
	case kDune:
		return h * (0.08 + 0.07*u)
	case kForest:
		return h * (0.04 + 0.03*u)
	default:
		return h * (0.09 + 0.06*u)
	}
}

// newLayer shapes and colours one layer at depth t (0 far .. 1 near).
func (s *scene) newLayer(kind int, t, base, amp, horizon float64, snow, lightLeft bool) *layer {
	rnd := s.geo.fork()
	pal, m := s.pal, &s.m
	w, h, unit := s.w, s.h, s.unit
	fh := float64(h)
	l := &layer{}
	col := mix(pal.far, pal.near, math.Pow(t, 0.9))
	mist := mix(col, pal.horizon(), 0.55)
	mistAmount := 0.5 * (1 - 0.45*t)
	f := &fill{}
	switch kind {
	case kMountain:
		l.mnt = newMountains(rnd, w, h, base, amp, unit, snow, lightLeft)
		l.ridge = l.mnt.ridge
	case kCity:
		lit := [...]float64{timeDay: 0, timeGolden: 0.25, timeNight: 0.55, timeRetro: 0.5}[m.time]
		l.ridge, l.windows = cityRidge(rnd, w, h, base, amp, unit, 0.8+0.8*t, lit)
	case kDune:
		l.mnt = newDunes(rnd, w, h, base, amp, unit, lightLeft)
		l.ridge = l.mnt.ridge
	case kForest:
		l.ridge = forestRidge(rnd, w, h, base, amp*0.6, unit, unit*(0.05+0.07*t))
	case kWave:
		l.ridge = waveRidge(rnd, w, h, base, amp, unit*(0.06+0.16*t))
		col = mix(mix(pal.water, pal.horizon(), 0.3*(1-t)), pal.waterDeep, 0.2+0.6*t)
		mist, mistAmount = pal.waterDeep, 0.6
	default:
		l.ridge = hillRidge(rnd, w, h, base, amp, unit)
		mistAmount *= 0.7
	}
	if l.mnt == nil {
		l.ridge.finish()
	}
	r := l.ridge
	from, to := float64(r.top), math.Min(base+(fh-horizon)*0.4, fh)
	if to <= from+1 {
		to = from + 2
	}
	f.rows = misty(h, col, mist, mistAmount, from, to)
	if kind == kWave {
		// Light on the crests, deepening down each wave.
		f.rows = misty(h, mix(col, pal.horizon(), 0.22), pal.waterDeep, 0.55+0.3*t, from, base+amp*0.6)
	}
	if t > 0 {
		f.cast, f.castW, f.castCol = 0.3, float32(unit*0.035), pal.shadow.rgb().f()
		if m.time == timeNight || m.time == timeRetro {
			f.cast = 0.45
		}
	}
	switch kind {
	case kMountain, kDune:
		shade := 0.35
		if m.time == timeNight {
			shade = 0.25
		}
		snowLit := mix(pal.snow, pal.horizon(), 0.25*(1-t))
		l.paint = &mountainPaint{
			lit:      f.rows,
			dark:     misty(h, mix(col, pal.shadow, shade), mix(mist, pal.shadow, shade*0.6), mistAmount, from, to),
			snowLit:  snowLit.rgb().f(),
			snowDark: mix(snowLit, pal.shadow, 0.22).rgb().f(),
		}
	case kWave:
		f.rim, f.rimW = pal.foam.rgb().f(), float32(math.Max(0.8, amp*0.14))
		f.castW = float32(unit * 0.015)
	case kForest, kCity:
		// Spiky edges cast a tight shadow: a wide one would blur their outline.
		f.cast *= 0.6
		f.castW = float32(unit * 0.012)
	}
	l.fill = f
	return l
}

// drawLayer paints one layer, in each column x down to row hidden[x]: first the soft
// shadow it casts on the land behind, then its body, then its windows.
func (s *scene) drawLayer(l *layer, g ground, hidden []int32) {
	c := s.c
	castShadow(c, l.ridge, l.fill, g)
	if l.mnt != nil {
		drawMountains(c, l.mnt, l.paint, hidden)
	} else {
		drawRidge(c, l.ridge, l.fill, hidden)
	}
	if len(l.windows) > 0 {
		body := l.fill.rows[min(int(l.ridge.mid[0]), s.h-1)]
		unlit := frgb{body.R, body.G, body.B}.mix(s.pal.window.rgb().f(), 0.45)
		drawWindows(c, l.windows, s.pal.accent.rgb(), rgb{uint8(unlit.R), uint8(unlit.G), uint8(unlit.B)})
	}
	g.add(l.ridge)
}
