package offline

import "math"

// Times of day: each has its own sky, light and land colours.
const (
	timeDay = iota
	timeGolden
	timeNight
	timeRetro
)

// mood is what the words and the style decide about colour; palette turns it into
// concrete colours.
type mood struct {
	time   int
	land   float64 // hue of the land, in degrees
	sky    float64 // hue of the sky
	water  float64 // hue of the sea
	accent float64 // hue of neon lines, lit windows, poster accents
	chroma float64 // multiplies every colour's chroma: vivid > 1 > pastel, muted
	lift   float64 // moves lightness towards white (pastel), 0..1
	mono   bool    // greys only...
	// monoAccent keeps the sun (or neon) coloured in a grey picture.
	monoAccent bool
	// banned hues come from colour words in the negative prompt.
	banned []float64
}

// hue returns h, moved out of every banned hue's neighbourhood.
func (m *mood) hue(h float64) float64 {
	const band = 42
	for range 6 {
		moved := false
		for _, b := range m.banned {
			d := math.Mod(h-b+540, 360) - 180 // signed difference in (-180, 180]
			if math.Abs(d) < band {
				if d >= 0 {
					h = b + band + 4
				} else {
					h = b - band - 4
				}
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	return math.Mod(h+360, 360)
}

// c makes a colour of the mood from lightness, chroma and hue.
func (m *mood) c(l, c, h float64) lab {
	if m.mono {
		c = 0
	}
	return m.tone(l, c, h)
}

// accentC is c, except that a grey picture keeps its accent's colour.
func (m *mood) accentC(l, c, h float64) lab {
	if m.mono && !m.monoAccent {
		c = 0
	}
	return m.tone(l, c, h)
}

func (m *mood) tone(l, c, h float64) lab {
	l += (1 - l) * m.lift
	return lch(l, c*m.chroma, m.hue(h))
}

// palette is every colour one picture uses.
type palette struct {
	sky        []lab // stops from the top of the picture down to the horizon
	sun        lab
	sunLow     lab // the sun's lower edge (a gradient disc)
	glow       lab
	glowAlpha  float64
	cloud      lab
	cloudShade lab
	star       lab
	far, near  lab // the farthest and nearest land layers
	shadow     lab // tint of the soft shadows layers cast on those behind
	snow       lab
	water      lab
	waterDeep  lab
	foam       lab
	accent     lab // neon grid lines, lit windows
	window     lab // unlit windows
	bird       lab
	floor      [2]lab // retro floor, horizon to bottom
	paper, ink lab
	tiles      []lab // poster colours besides paper and ink
}

// horizon is the sky's lowest colour.
func (p *palette) horizon() lab { return p.sky[len(p.sky)-1] }

// newPalette designs the colours of a mood.
func newPalette(m *mood) *palette {
	p := &palette{}
	L, S, W, A := m.land, m.sky, m.water, m.accent
	switch m.time {
	case timeGolden:
		p.sky = []lab{m.c(0.42, 0.11, S), m.c(0.64, 0.15, S+85), m.c(0.79, 0.14, S+120), m.c(0.9, 0.11, S+150)}
		p.sun, p.sunLow = m.accentC(0.97, 0.1, 95), m.accentC(0.84, 0.16, 60)
		p.glow, p.glowAlpha = m.accentC(0.9, 0.14, 70), 0.6
		p.cloud, p.cloudShade = m.c(0.83, 0.09, 35), m.c(0.6, 0.11, S+30)
		p.star = m.c(0.97, 0.02, 90)
		p.far = mix(m.c(0.6, 0.1, L), p.sky[1], 0.35)
		p.near = m.c(0.25, 0.07, L)
		p.shadow = m.c(0.18, 0.06, L)
		p.snow = m.c(0.93, 0.05, 40)
		p.water, p.waterDeep = m.c(0.58, 0.1, W), m.c(0.4, 0.1, W)
		p.foam = m.c(0.94, 0.05, 60)
		p.accent, p.window = m.accentC(0.88, 0.14, 85), m.c(0.45, 0.05, L)
		p.bird = m.c(0.22, 0.04, L)
	case timeNight:
		p.sky = []lab{m.c(0.13, 0.04, S), m.c(0.2, 0.06, S), m.c(0.36, 0.08, S-20)}
		p.sun, p.sunLow = m.accentC(0.96, 0.03, 95), m.accentC(0.9, 0.04, 90)
		p.glow, p.glowAlpha = m.c(0.7, 0.06, S), 0.4
		p.cloud, p.cloudShade = m.c(0.4, 0.05, S), m.c(0.27, 0.05, S)
		p.star = m.c(0.97, 0.02, 90)
		p.far = m.c(0.33, 0.06, L)
		p.near = m.c(0.15, 0.035, L)
		p.shadow = m.c(0.08, 0.02, L)
		p.snow = m.c(0.8, 0.03, S)
		p.water, p.waterDeep = m.c(0.27, 0.06, W), m.c(0.17, 0.05, W)
		p.foam = m.c(0.75, 0.04, W)
		p.accent, p.window = m.accentC(0.86, 0.14, A), m.c(0.3, 0.04, L)
		p.bird = m.c(0.1, 0.02, S)
	case timeRetro:
		p.sky = []lab{m.c(0.14, 0.07, S), m.c(0.3, 0.13, S+20), m.c(0.55, 0.19, S+60), m.c(0.76, 0.15, S+110)}
		p.sun, p.sunLow = m.accentC(0.93, 0.17, 100), m.accentC(0.64, 0.25, 355)
		p.glow, p.glowAlpha = m.accentC(0.7, 0.2, 350), 0.5
		p.cloud, p.cloudShade = m.c(0.5, 0.15, S+40), m.c(0.35, 0.12, S+20)
		p.star = m.c(0.97, 0.03, 90)
		p.far = m.c(0.32, 0.12, L)
		p.near = m.c(0.18, 0.09, L)
		p.shadow = m.c(0.08, 0.05, L)
		p.snow = m.c(0.75, 0.12, S+50)
		p.water, p.waterDeep = m.c(0.3, 0.1, S+10), m.c(0.15, 0.06, S)
		p.foam = m.c(0.85, 0.1, A)
		p.accent, p.window = m.accentC(0.72, 0.24, A), m.c(0.25, 0.08, L)
		p.bird = m.c(0.1, 0.03, S)
		p.floor = [2]lab{m.c(0.12, 0.06, S), m.c(0.22, 0.1, S+10)}
	default: // day
		p.sky = []lab{m.c(0.63, 0.12, S), m.c(0.78, 0.08, S-8), m.c(0.93, 0.04, S-30)}
		p.sun, p.sunLow = m.accentC(0.99, 0.06, 100), m.accentC(0.95, 0.08, 90)
		p.glow, p.glowAlpha = m.accentC(0.98, 0.06, 95), 0.55
		p.cloud, p.cloudShade = m.c(0.985, 0.01, S), m.c(0.9, 0.03, S)
		p.star = m.c(0.99, 0.01, 90)
		p.far = mix(m.c(0.74, 0.08, L+15), p.sky[2], 0.3)
		p.near = m.c(0.42, 0.11, L)
		p.shadow = m.c(0.22, 0.05, L)
		p.snow = m.c(0.97, 0.015, S)
		p.water, p.waterDeep = m.c(0.66, 0.1, W), m.c(0.5, 0.12, W)
		p.foam = m.c(0.97, 0.02, W)
		p.accent, p.window = m.accentC(0.9, 0.1, A), m.c(0.85, 0.04, S)
		p.bird = m.c(0.3, 0.03, S)
	}
	if m.mono && m.monoAccent {
		// Noir with a colour word: a grey world under a coloured sun.
		p.sun, p.sunLow = m.accentC(0.72, 0.2, A), m.accentC(0.6, 0.2, A)
		p.glow = m.accentC(0.65, 0.15, A)
	}
	if p.floor == [2]lab{} {
		p.floor = [2]lab{p.waterDeep.lighter(-0.1), p.waterDeep}
	}
	dark := m.time == timeNight || m.time == timeRetro
	if dark {
		p.paper, p.ink = m.c(0.2, 0.03, S), m.c(0.93, 0.02, 85)
	} else {
		p.paper, p.ink = m.c(0.95, 0.025, 85), m.c(0.24, 0.03, L)
	}
	second := L + 150
	if A != L {
		second = A
	}
	p.tiles = []lab{
		m.accentC(0.63, 0.17, L),
		m.accentC(0.77, 0.13, second),
		m.accentC(0.87, 0.15, 95),
		m.accentC(0.52, 0.14, L+200),
		m.accentC(0.7, 0.12, L+60),
	}
	if dark {
		for i := range p.tiles {
			p.tiles[i] = p.tiles[i].lighter(0.04)
		}
	}
	return p
}
