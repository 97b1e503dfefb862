package offline

import "math"

// lab is a colour in OKLab, where mixing two colours and stepping lightness look even
// to the eye; palettes are designed in its polar form (lightness, chroma, hue).
type lab struct{ L, A, B float64 }

// lch builds a colour from lightness (0..1), chroma (0..~0.37) and hue in degrees.
func lch(l, c, h float64) lab {
	r := h * math.Pi / 180
	return lab{l, c * math.Cos(r), c * math.Sin(r)}
}

func mix(a, b lab, t float64) lab {
	return lab{a.L + (b.L-a.L)*t, a.A + (b.A-a.A)*t, a.B + (b.B-a.B)*t}
}

// lighter moves the lightness by d, keeping hue and chroma.
func (c lab) lighter(d float64) lab { return lab{clamp(c.L+d, 0, 1), c.A, c.B} }

// scaleChroma multiplies the chroma by k.
func (c lab) scaleChroma(k float64) lab { return lab{c.L, c.A * k, c.B * k} }

func (c lab) linear() (r, g, b float64) {
	l := c.L + 0.3963377774*c.A + 0.2158037573*c.B
	m := c.L - 0.1055613458*c.A - 0.0638541728*c.B
	s := c.L - 0.0894841775*c.A - 1.2914855480*c.B
	l, m, s = l*l*l, m*m*m, s*s*s
	r = 4.0767416621*l - 3.3077115913*m + 0.2309699292*s
	g = -1.2684380046*l + 2.6097574011*m - 0.3413193965*s
	b = -0.0041960863*l - 0.7034186147*m + 1.7076147010*s
	return r, g, b
}

func inGamut(r, g, b float64) bool {
	const e = 1e-4
	return r >= -e && r <= 1+e && g >= -e && g <= 1+e && b >= -e && b <= 1+e
}

// rgb converts to 8-bit sRGB. Colours outside sRGB lose chroma (not lightness or hue)
// until they fit, which keeps saturated palette entries from turning into odd hues.
func (c lab) rgb() rgb {
	c.L = clamp(c.L, 0, 1)
	r, g, b := c.linear()
	if !inGamut(r, g, b) {
		lo, hi := 0.0, 1.0
		for range 14 {
			mid := (lo + hi) / 2
			if inGamut(c.scaleChroma(mid).linear()) {
				lo = mid
			} else {
				hi = mid
			}
		}
		r, g, b = c.scaleChroma(lo).linear()
	}
	return rgb{encodeSRGB(r), encodeSRGB(g), encodeSRGB(b)}
}

func encodeSRGB(v float64) uint8 {
	v = clamp(v, 0, 1)
	if v <= 0.0031308 {
		v *= 12.92
	} else {
		v = 1.055*math.Pow(v, 1/2.4) - 0.055
	}
	return uint8(v*255 + 0.5)
}

// rgb is an 8-bit sRGB colour.
type rgb struct{ R, G, B uint8 }

// frgb is an sRGB colour with float channels (0..255), for per-pixel mixing.
type frgb struct{ R, G, B float32 }

func (c rgb) f() frgb { return frgb{float32(c.R), float32(c.G), float32(c.B)} }

func (c frgb) mix(d frgb, t float32) frgb {
	return frgb{c.R + (d.R-c.R)*t, c.G + (d.G-c.G)*t, c.B + (d.B-c.B)*t}
}

// along returns the colour at t (0..1) of a gradient through evenly spaced stops.
func along(t float64, stops []lab) lab {
	if len(stops) == 1 {
		return stops[0]
	}
	t = clamp(t, 0, 1) * float64(len(stops)-1)
	i := min(int(t), len(stops)-2)
	return mix(stops[i], stops[i+1], t-float64(i))
}

func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }

func clamp32(v float32) float32 { return max(0, min(1, v)) }

func smoothstep(e0, e1, x float64) float64 {
	t := clamp((x-e0)/(e1-e0), 0, 1)
	return t * t * (3 - 2*t)
}
