package offline

import "math"

// banHues greys out every pixel whose hue is near a banned one. The palette already
// keeps its colours away from banned hues, but gradients and mixes between two
// allowed colours can pass through one (purple to orange passes red), so the picture
// gets this last look. banned are OKLCH hues, as words give them.
func banHues(c *canvas, banned []float64) {
	const width = 26 // degrees of HSV hue either side that lose their colour
	centres := make([]float32, len(banned))
	for i, h := range banned {
		centres[i] = float32(hsvHue(lch(0.62, 0.15, h).rgb()))
	}
	for i := 0; i < len(c.pix); i += 3 {
		p := c.pix[i : i+3 : i+3]
		r, g, b := int32(p[0]), int32(p[1]), int32(p[2])
		mx, mn := max(r, g, b), min(r, g, b)
		if mx-mn < 12 {
			continue // grey enough
		}
		h := float32(hsvHue(rgb{p[0], p[1], p[2]}))
		amount := float32(0)
		for _, ctr := range centres {
			d := h - ctr
			if d > 180 {
				d -= 360
			} else if d < -180 {
				d += 360
			}
			if d < 0 {
				d = -d
			}
			if d < width {
				amount = max(amount, min(1, 1.6*(1-d/width)))
			}
		}
		if amount == 0 {
			continue
		}
		grey := 0.299*float32(r) + 0.587*float32(g) + 0.114*float32(b)
		p[0] = uint8(float32(r) + (grey-float32(r))*amount + 0.5)
		p[1] = uint8(float32(g) + (grey-float32(g))*amount + 0.5)
		p[2] = uint8(float32(b) + (grey-float32(b))*amount + 0.5)
	}
}

// hsvHue returns the HSV hue of a colour in degrees (0 for greys).
func hsvHue(c rgb) float64 {
	r, g, b := float64(c.R), float64(c.G), float64(c.B)
	mx, mn := max(r, g, b), min(r, g, b)
	d := mx - mn
	if d == 0 {
		return 0
	}
	var h float64
	switch mx {
	case r:
		h = (g - b) / d
	case g:
		h = (b-r)/d + 2
	default:
		h = (r-g)/d + 4
	}
	return math.Mod(h*60+360, 360)
}
