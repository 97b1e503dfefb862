package offline

import (
	"math"
	"slices"
)

// The pixel work of the edit operations. None of it is AI: every operation is a
// classic image-processing technique, chosen so that the result visibly does what
// the operation promises, deterministically, in tens of milliseconds a megapixel.

// growMask applies grow_mask: the masked area grows by r pixels, then its edge is
// softened over about r/2 pixels, as Stability's services describe it.
func growMask(m []uint8, w, h, r int) []uint8 {
	if r <= 0 {
		return m
	}
	return boxBlur(dilate(m, w, h, r), w, h, max(r/2, 1))
}

// composite writes fill over dst where the mask says (255: all fill, 0: keep dst).
func composite(dst, fill *canvas, m []uint8) {
	bands(dst.h, func(y0, y1 int) {
		for i := y0 * dst.w; i < y1*dst.w; i++ {
			a := int32(m[i])
			if a == 0 {
				continue
			}
			j := 3 * i
			for k := range 3 {
				d := int32(dst.pix[j+k])
				dst.pix[j+k] = uint8(d + (int32(fill.pix[j+k])-d)*a/255)
			}
		}
	})
}

// pushPull fills the unknown pixels of c (weight 0) from the known ones (weight 255)
// by averaging down a pyramid until every cell has some known colour, then
// interpolating back up: holes take the smooth colours of their surroundings, the
// way a painter blends a gap shut. Known pixels are returned unchanged.
func pushPull(c *canvas, known []uint8) *canvas {
	type level struct {
		w, h int
		rgb  []float32 // premultiplied by weight
		wt   []float32 // 0..1
	}
	base := level{w: c.w, h: c.h, rgb: make([]float32, 3*c.w*c.h), wt: make([]float32, c.w*c.h)}
	for i, k := range known {
		f := float32(k) / 255
		base.wt[i] = f
		base.rgb[3*i] = float32(c.pix[3*i]) * f
		base.rgb[3*i+1] = float32(c.pix[3*i+1]) * f
		base.rgb[3*i+2] = float32(c.pix[3*i+2]) * f
	}
	levels := []level{base}
	for l := levels[0]; l.w > 1 || l.h > 1; l = levels[len(levels)-1] {
		n := level{w: (l.w + 1) / 2, h: (l.h + 1) / 2}
		n.rgb, n.wt = make([]float32, 3*n.w*n.h), make([]float32, n.w*n.h)
		for y := range n.h {
			for x := range n.w {
				var sum [3]float32
				var wsum float32
				for dy := range 2 {
					for dx := range 2 {
						sx, sy := min(2*x+dx, l.w-1), min(2*y+dy, l.h-1)
						i := sy*l.w + sx
						wsum += l.wt[i]
						sum[0] += l.rgb[3*i]
						sum[1] += l.rgb[3*i+1]
						sum[2] += l.rgb[3*i+2]
					}
				}
				i := y*n.w + x
				if wsum > 0 {
					// Normalise, then keep a weight that saturates at 1: a cell with
					// any known pixel below it is known at the coarser level.
					wt := min(wsum, 1)
					n.wt[i] = wt
					n.rgb[3*i], n.rgb[3*i+1], n.rgb[3*i+2] = sum[0]/wsum*wt, sum[1]/wsum*wt, sum[2]/wsum*wt
				}
			}
		}
		levels = append(levels, n)
	}
	// Push: from the coarsest level down, each level's unknown share takes the
	// bilinearly upsampled colour of the level above.
	filled := []float32{128, 128, 128} // nothing known at all: mid grey
	if top := levels[len(levels)-1]; top.wt[0] > 0 {
		filled = []float32{top.rgb[0] / top.wt[0], top.rgb[1] / top.wt[0], top.rgb[2] / top.wt[0]}
	}
	for li := len(levels) - 2; li >= 0; li-- {
		l, up := levels[li], levels[li+1]
		next := make([]float32, 3*l.w*l.h)
		for y := range l.h {
			fy := (float32(y)+0.5)/2 - 0.5
			y0 := int(math.Floor(float64(fy)))
			ty := fy - float32(y0)
			y0c, y1c := clampIndex(y0, up.h), clampIndex(y0+1, up.h)
			for x := range l.w {
				fx := (float32(x)+0.5)/2 - 0.5
				x0 := int(math.Floor(float64(fx)))
				tx := fx - float32(x0)
				x0c, x1c := clampIndex(x0, up.w), clampIndex(x0+1, up.w)
				i := y*l.w + x
				wt := l.wt[i]
				for k := range 3 {
					a := filled[3*(y0c*up.w+x0c)+k]*(1-tx) + filled[3*(y0c*up.w+x1c)+k]*tx
					b := filled[3*(y1c*up.w+x0c)+k]*(1-tx) + filled[3*(y1c*up.w+x1c)+k]*tx
					next[3*i+k] = l.rgb[3*i+k] + (1-wt)*(a*(1-ty)+b*ty)
				}
			}
		}
		filled = next
	}
	out := newCanvas(c.w, c.h)
	for i, v := range filled {
		out.pix[i] = uint8(max(0, min(v+0.5, 255)))
	}
	return out
}

// backgroundMask finds the background of a picture: the region joined to its top
// edge by small colour steps (a flood fill by colour distance), seeded by the top
// edge's dominant colour. Backgrounds sit behind and above subjects: a sky, a wall,
// a studio sweep reach the top of the frame and run down its sides, while subjects
// stand on the bottom edge. Colours are split two ways along the top edge first, so
// a subject that touches the top is not taken for background. 255: background.
func backgroundMask(c *canvas) []uint8 {
	w, h := c.w, c.h
	col := func(i int) [3]float64 {
		return [3]float64{float64(c.pix[3*i]), float64(c.pix[3*i+1]), float64(c.pix[3*i+2])}
	}
	dist := func(a, b [3]float64) float64 {
		return math.Abs(a[0]-b[0]) + math.Abs(a[1]-b[1]) + math.Abs(a[2]-b[2])
	}
	// Two-means on the top row, started from its first pixel and the pixel farthest
	// from it.
	centres := [2][3]float64{col(0)}
	far := 0.0
	for x := range w {
		if d := dist(col(x), centres[0]); d > far {
			far, centres[1] = d, col(x)
		}
	}
	group := make([]uint8, w)
	var count [2]int
	for range 6 {
		var sum [2][3]float64
		count = [2]int{}
		for x := range w {
			p := col(x)
			g := uint8(0)
			if dist(p, centres[1]) < dist(p, centres[0]) {
				g = 1
			}
			group[x] = g
			for j := range 3 {
				sum[g][j] += p[j]
			}
			count[g]++
		}
		for g := range 2 {
			if count[g] > 0 {
				for j := range 3 {
					centres[g][j] = sum[g][j] / float64(count[g])
				}
			}
		}
	}
	bg := uint8(0)
	if count[1] > count[0] {
		bg = 1
	}
	// The fill follows small steps (a sky's gradient, a wall's shading), and only so
	// far from the top's colours that it cannot creep along a soft edge into
	// everything.
	const (
		step  = 30  // the largest colour step between neighbours inside the background
		reach = 300 // the farthest a background colour may be from the top's
	)
	mask := make([]uint8, w*h)
	queue := make([]int32, 0, 4*(w+h))
	for x := range w {
		if group[x] == bg {
			mask[x] = 255
			queue = append(queue, int32(x))
		}
	}
	pix := c.pix
	near := func(i, j int) bool {
		a, b := pix[3*i:3*i+3:3*i+3], pix[3*j:3*j+3:3*j+3]
		return absDiff(a[0], b[0])+absDiff(a[1], b[1])+absDiff(a[2], b[2]) <= step
	}
	for len(queue) > 0 {
		i := int(queue[len(queue)-1])
		queue = queue[:len(queue)-1]
		x := i % w
		for _, j := range [4]int{i - 1, i + 1, i - w, i + w} {
			switch {
			case j == i-1 && x == 0, j == i+1 && x == w-1, j < 0, j >= w*h:
				continue
			}
			if mask[j] == 0 && near(i, j) && dist(col(j), centres[bg]) <= reach {
				mask[j] = 255
				queue = append(queue, int32(j))
			}
		}
	}
	return mask
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// coverage is the share of a plane's pixels at or above half.
func coverage(m []uint8) float64 {
	n := 0
	for _, v := range m {
		if v >= 128 {
			n++
		}
	}
	return float64(n) / float64(max(len(m), 1))
}

// invert returns 255-m.
func invert(m []uint8) []uint8 {
	out := make([]uint8, len(m))
	for i, v := range m {
		out[i] = 255 - v
	}
	return out
}

// chromaOf is a colour's position in the (Cb, Cr) plane of BT.601 YCbCr, centred.
func chromaOf(r, g, b float64) (cb, cr float64) {
	return -0.168736*r - 0.331264*g + 0.5*b, 0.5*r - 0.418688*g - 0.081312*b
}

// hueDirection is the unit (Cb, Cr) direction of an OKLCH hue.
func hueDirection(hue float64) (cb, cr float64) {
	c := lch(0.65, 0.15, hue).rgb()
	cb, cr = chromaOf(float64(c.R), float64(c.G), float64(c.B))
	n := math.Hypot(cb, cr)
	return cb / n, cr / n
}

// selectRegion finds the part of a picture that a few words describe ("the red
// car", "sky", "the sun"): colour words select pixels of that hue; sky words the
// background; sun, moon and planets the brightest blob; anything else the subject
// (everything but the background). A selection of almost nothing falls through to
// the next rule, so there is always something to change. 255: selected.
func selectRegion(c *canvas, words string) []uint8 {
	p := parsePrompt(words, "")
	n := c.w * c.h
	if len(p.hues) > 0 {
		tcb, tcr := hueDirection(p.hues[0])
		m := make([]uint8, n)
		cos30 := math.Cos(30 * math.Pi / 180)
		for i := range n {
			cb, cr := chromaOf(float64(c.pix[3*i]), float64(c.pix[3*i+1]), float64(c.pix[3*i+2]))
			mag := math.Hypot(cb, cr)
			if mag >= 12 && (cb*tcb+cr*tcr)/mag >= cos30 {
				m[i] = 255
			}
		}
		if coverage(m) >= 0.002 {
			return m
		}
	}
	bg := backgroundMask(c)
	switch {
	case p.has(fSun) || p.has(fMoon) || p.has(fPlanet):
		l := luma(c)
		hist := [256]int{}
		for _, v := range l {
			hist[v]++
		}
		cut, seen := 255, 0
		for ; cut > 0 && seen < n/50; cut-- {
			seen += hist[cut]
		}
		m := make([]uint8, n)
		for i, v := range l {
			if int(v) > cut {
				m[i] = 255
			}
		}
		if coverage(m) >= 0.002 {
			return m
		}
	case p.has(fCloud) || p.has(fStar) || p.has(fNight) || p.has(fDay) || words == "sky" || containsWord(words, "sky") || containsWord(words, "background"):
		if coverage(bg) >= 0.002 {
			return bg
		}
	}
	if fg := invert(bg); coverage(fg) >= 0.002 {
		return fg
	}
	return ellipse(c.w, c.h)
}

func containsWord(s, w string) bool {
	for _, f := range splitWords(s) {
		if f == w {
			return true
		}
	}
	return false
}

func splitWords(s string) []string {
	var out []string
	for _, cl := range clauses(s) {
		out = append(out, cl...)
	}
	return out
}

// ellipse is a centred elliptical mask covering the middle of a picture.
func ellipse(w, h int) []uint8 {
	m := make([]uint8, w*h)
	cx, cy, rx, ry := float64(w)/2, float64(h)/2, float64(w)*0.3, float64(h)*0.3
	for y := range h {
		for x := range w {
			dx, dy := (float64(x)+0.5-cx)/rx, (float64(y)+0.5-cy)/ry
			if dx*dx+dy*dy <= 1 {
				m[y*w+x] = 255
			}
		}
	}
	return m
}

// recolor moves the hue of the masked pixels to hue (OKLCH degrees), keeping their
// luminance and at least a visible amount of colour.
func recolor(c *canvas, m []uint8, hue float64) {
	tcb, tcr := hueDirection(hue)
	bands(c.h, func(y0, y1 int) {
		for i := y0 * c.w; i < y1*c.w; i++ {
			a := float64(m[i]) / 255
			if a == 0 {
				continue
			}
			j := 3 * i
			r, g, b := float64(c.pix[j]), float64(c.pix[j+1]), float64(c.pix[j+2])
			y := 0.299*r + 0.587*g + 0.114*b
			cb, cr := chromaOf(r, g, b)
			mag := max(math.Hypot(cb, cr), 64)
			ncb, ncr := tcb*mag, tcr*mag
			nr := y + 1.402*ncr
			ng := y - 0.344136*ncb - 0.714136*ncr
			nb := y + 1.772*ncb
			c.pix[j] = uint8(max(0, min(r+(nr-r)*a+0.5, 255)))
			c.pix[j+1] = uint8(max(0, min(g+(ng-g)*a+0.5, 255)))
			c.pix[j+2] = uint8(max(0, min(b+(nb-b)*a+0.5, 255)))
		}
	})
}

// edges is the Sobel gradient magnitude of a luminance plane, scaled to 0..255.
func edges(l []uint8, w, h int) []uint8 {
	out := make([]uint8, w*h)
	at := func(x, y int) int { return int(l[clampIndex(y, h)*w+clampIndex(x, w)]) }
	bands(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				gx := at(x+1, y-1) + 2*at(x+1, y) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x-1, y) - at(x-1, y+1)
				gy := at(x-1, y+1) + 2*at(x, y+1) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x, y-1) - at(x+1, y-1)
				out[y*w+x] = uint8(min(math.Sqrt(float64(gx*gx+gy*gy))/2, 255))
			}
		}
	})
	return out
}

// guide draws a scene along a source's structure. Sketch: the source's edges are
// inked over the scene, strength times as dark. Structure: the scene also takes the
// source's light and shade (its luminance), strength times.
func guide(scene, src *canvas, strength float64, structure bool) {
	l := luma(src)
	e := edges(l, src.w, src.h)
	sl := luma(scene)
	bands(scene.h, func(y0, y1 int) {
		for i := y0 * scene.w; i < y1*scene.w; i++ {
			j := 3 * i
			shift := 0.0
			if structure {
				shift = (float64(l[i]) - float64(sl[i])) * strength
			}
			ink := 1 - strength*float64(e[i])/255
			for k := range 3 {
				v := (float64(scene.pix[j+k]) + shift) * ink
				scene.pix[j+k] = uint8(max(0, min(v+0.5, 255)))
			}
		}
	})
}

// colourStats are a picture's per-channel mean and standard deviation in YCbCr,
// estimated from at most about 65,000 pixels.
type colourStats struct{ mean, std [3]float64 }

func statsOf(c *canvas) colourStats {
	step := max(1, int(math.Sqrt(float64(c.w*c.h)/65536)))
	var sum, sq [3]float64
	n := 0.0
	for y := 0; y < c.h; y += step {
		for x := 0; x < c.w; x += step {
			v := ycc(c, 3*(y*c.w+x))
			for k := range 3 {
				sum[k] += v[k]
				sq[k] += v[k] * v[k]
			}
			n++
		}
	}
	var s colourStats
	for k := range 3 {
		s.mean[k] = sum[k] / n
		s.std[k] = math.Sqrt(max(sq[k]/n-s.mean[k]*s.mean[k], 1))
	}
	return s
}

func ycc(c *canvas, j int) [3]float64 {
	r, g, b := float64(c.pix[j]), float64(c.pix[j+1]), float64(c.pix[j+2])
	cb, cr := chromaOf(r, g, b)
	return [3]float64{0.299*r + 0.587*g + 0.114*b, cb, cr}
}

// transferColour moves c's colour statistics towards target's (Reinhard's transfer,
// in YCbCr), by amount 0..1: the palette and contrast of one picture on another.
func transferColour(c *canvas, target colourStats, amount float64) {
	from := statsOf(c)
	var gain [3]float64
	for k := range 3 {
		gain[k] = target.std[k] / from.std[k]
	}
	bands(c.h, func(y0, y1 int) {
		for i := y0 * c.w; i < y1*c.w; i++ {
			j := 3 * i
			v := ycc(c, j)
			var t [3]float64
			for k := range 3 {
				t[k] = v[k] + ((v[k]-from.mean[k])*gain[k]+target.mean[k]-v[k])*amount
			}
			r := t[0] + 1.402*t[2]
			g := t[0] - 0.344136*t[1] - 0.714136*t[2]
			b := t[0] + 1.772*t[1]
			c.pix[j] = uint8(max(0, min(r+0.5, 255)))
			c.pix[j+1] = uint8(max(0, min(g+0.5, 255)))
			c.pix[j+2] = uint8(max(0, min(b+0.5, 255)))
		}
	})
}

// blend mixes b into a by t (0: a, 1: b); the canvases have one size.
func blend(a, b *canvas, t float64) {
	ti := int32(math.Round(t * 256))
	bands(a.h, func(y0, y1 int) {
		for j := 3 * y0 * a.w; j < 3*y1*a.w; j++ {
			v := int32(a.pix[j])
			a.pix[j] = uint8(v + (int32(b.pix[j])-v)*ti>>8)
		}
	})
}

// sharpen adds amount times the detail a blur of radius r removes (an unsharp
// mask), and, with grain above zero, a fine deterministic texture from the seed:
// the "detail" an upscaler invents.
func sharpen(c *canvas, r int, amount float64, grain float64, seed uint64) {
	blurred := boxBlurRGB(c, r)
	a := int32(amount * 256)
	g := int32(grain * 256)
	bands(c.h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			rnd := newRNG(seed ^ uint64(y)*0x9e3779b97f4a7c15)
			var bitsLeft int
			var bits uint64
			for x := range c.w {
				j := 3 * (y*c.w + x)
				noise := int32(0)
				if g > 0 {
					if bitsLeft == 0 {
						bits, bitsLeft = rnd.next(), 8
					}
					noise = (int32(bits&0xff) - 128) * g >> 8
					bits >>= 8
					bitsLeft--
				}
				for k := range 3 {
					v := int32(c.pix[j+k])
					v += ((v-int32(blurred[j+k]))*a + noise) >> 8
					c.pix[j+k] = uint8(max(0, min(v, 255)))
				}
			}
		}
	})
}

// outpaintFill extends src onto a larger canvas at offset (left, up): the new area
// continues the picture's border colours (push-pull), and, the farther from the
// original, the more it becomes the scene, by creativity.
func outpaintFill(src, scene *canvas, left, up int, creativity float64) *canvas {
	w, h := scene.w, scene.h
	big := newCanvas(w, h)
	known := make([]uint8, w*h)
	for y := range src.h {
		copy(big.pix[big.at(left, up+y):big.at(left+src.w, up+y)], src.pix[src.at(0, y):src.at(src.w, y)])
		for x := range src.w {
			known[(up+y)*w+left+x] = 255
		}
	}
	ext := pushPull(big, known)
	feather := 0.2 * float64(min(src.w, src.h))
	for y := range h {
		dy := max(float64(up-y), float64(y-(up+src.h-1)), 0)
		for x := range w {
			i := y*w + x
			if known[i] == 255 {
				continue
			}
			dx := max(float64(left-x), float64(x-(left+src.w-1)), 0)
			// Near the seam the picture's own edge colours continue; farther out the
			// scene takes over, the more so the higher the creativity.
			t := (0.3 + 0.6*creativity) * smoothstep(0, feather, math.Hypot(dx, dy))
			j := 3 * i
			for k := range 3 {
				e := float64(ext.pix[j+k])
				big.pix[j+k] = uint8(e + (float64(scene.pix[j+k])-e)*t + 0.5)
			}
		}
	}
	return big
}

// hasValue reports whether any element of m is non-zero.
func hasValue(m []uint8) bool { return slices.ContainsFunc(m, func(v uint8) bool { return v != 0 }) }
