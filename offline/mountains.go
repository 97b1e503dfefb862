package offline

import (
	"math"
	"sort"
)

// peak is one mountain: a wedge under its apex, split by a shade line into a lit face
// and a face turned from the light, with an optional zigzag snow cap. A rounded peak
// is a dune: its flanks are parabolas near the crest and its shade line curves.
type peak struct {
	x, y   float64 // apex
	ml, mr float64 // slopes, pixels down per pixel across, left and right
	il, ir float64 // 1/sqrt(1+m²): turns vertical distances into true distances
	split  float64 // the shade line runs x = apex.x + (y-apex.y)*split
	snow   float64 // depth of the snow cap under the apex; 0: none
	zig    float64 // width of one tooth of the snow line
	z      float64 // stacking order within the layer: larger is nearer

	round  bool    // a dune
	height float64 // a dune's height: its flanks are parabolas this tall...
	wl, wr float64 // ...and this wide, left and right, then straight lines
	curve  float64 // a dune's shade line: x = apex.x + curve*sqrt((y-apex.y)/height)
}

// top returns the y of the wedge's upper edge at x.
func (p *peak) top(x float64) float64 {
	if p.round {
		y, _ := p.roundTop(x)
		return y
	}
	if x < p.x {
		return p.y + p.ml*(p.x-x)
	}
	return p.y + p.mr*(x-p.x)
}

// roundTop returns a dune's surface at x and its slope there.
func (p *peak) roundTop(x float64) (y, slope float64) {
	d, w := x-p.x, p.wr
	if d < 0 {
		d, w = -d, p.wl
	}
	u := d / w
	if u <= 1 {
		return p.y + p.height*u*u, 2 * p.height * u / w
	}
	return p.y + p.height*(2*u-1), 2 * p.height / w
}

// mountains is a layer of overlapping peaks.
type mountains struct {
	peaks []peak // nearest first
	ridge *ridge
	// lightLeft says the light comes from the left, so right faces are shaded.
	lightLeft bool
}

// newMountains raises peaks along base (the mean foot line) with heights up to amp.
func newMountains(rnd *rng, w, h int, base, amp, unit float64, snow bool, lightLeft bool) *mountains {
	m := &mountains{lightLeft: lightLeft}
	step := unit * rnd.between(0.16, 0.28)
	for x := -step * rnd.between(0.2, 1); x < float64(w)+step; x += step * rnd.between(0.6, 1.3) {
		height := amp * rnd.between(0.45, 1)
		run := step * rnd.between(0.7, 1.4)
		pk := peak{
			x:     x,
			y:     base - height,
			ml:    height / (run * rnd.between(0.8, 1.25)),
			mr:    height / (run * rnd.between(0.8, 1.25)),
			split: rnd.between(-0.25, 0.35),
			z:     rnd.float(),
		}
		if snow && height > amp*0.55 {
			pk.snow = height * rnd.between(0.2, 0.32)
			pk.zig = unit * rnd.between(0.025, 0.045)
		}
		pk.il, pk.ir = 1/math.Sqrt(1+pk.ml*pk.ml), 1/math.Sqrt(1+pk.mr*pk.mr)
		m.peaks = append(m.peaks, pk)
	}
	m.index(w, h)
	return m
}

// newDunes raises rounded dunes with long windward slopes and short lee sides.
func newDunes(rnd *rng, w, h int, base, amp, unit float64, lightLeft bool) *mountains {
	m := &mountains{lightLeft: lightLeft}
	step := unit * rnd.between(0.22, 0.36)
	dir := 1.0
	if !lightLeft {
		dir = -1
	}
	for x := -step * rnd.between(0.3, 1); x < float64(w)+step; x += step * rnd.between(0.7, 1.3) {
		height := amp * rnd.between(0.45, 1)
		windward, lee := step*rnd.between(0.8, 1.1), step*rnd.between(0.4, 0.6)
		pk := peak{x: x, y: base - height, round: true, height: height, z: rnd.float()}
		if lightLeft {
			pk.wl, pk.wr = windward, lee
		} else {
			pk.wl, pk.wr = lee, windward
		}
		pk.curve = dir * lee * rnd.between(0.35, 0.6)
		// The straight flanks beyond the parabolas fall at these slopes.
		pk.ml, pk.mr = 2*height/pk.wl, 2*height/pk.wr
		m.peaks = append(m.peaks, pk)
	}
	m.index(w, h)
	return m
}

// index sorts the peaks nearest first and traces the ridge.
func (m *mountains) index(w, h int) {
	sort.SliceStable(m.peaks, func(i, j int) bool { return m.peaks[i].z > m.peaks[j].z })
	m.ridge = newRidge(w, h, func(x float64) float64 {
		y := float64(h) + 1
		for i := range m.peaks {
			y = math.Min(y, m.peaks[i].top(x))
		}
		return y
	})
	m.ridge.finish()
}

// mountainPaint holds the colours of a mountain layer, per row.
type mountainPaint struct {
	lit, dark         []frgb
	snowLit, snowDark frgb
}

// triangleWave is a zigzag between -1 and 1 with period 1.
func triangleWave(u float64) float64 {
	u -= math.Floor(u)
	return math.Abs(2*u-1)*2 - 1
}

// edges returns where the peak's surface crosses depth d below its apex: the columns
// of its left and right flanks.
func (p *peak) edges(d float64) (float64, float64) {
	if !p.round {
		return p.x - d/p.ml, p.x + d/p.mr
	}
	if d <= p.height {
		u := math.Sqrt(d / p.height)
		return p.x - u*p.wl, p.x + u*p.wr
	}
	return p.x - p.wl - (d-p.height)/p.ml, p.x + p.wr + (d-p.height)/p.mr
}

// coverage returns how much of the pixel centred at (px, py) the peak covers.
func (p *peak) coverage(px, py float64) float32 {
	if p.round {
		top, slope := p.roundTop(px)
		return float32(clamp((py-top)/math.Sqrt(1+slope*slope)+0.5, 0, 1))
	}
	dl := (py - p.y - p.ml*(p.x-px)) * p.il
	dr := (py - p.y - p.mr*(px-p.x)) * p.ir
	return float32(clamp(math.Min(dl, dr)+0.5, 0, 1))
}

// splitAt returns the column of the shade line at row py.
func (p *peak) splitAt(py float64) float64 {
	if p.round {
		return p.x + p.curve*math.Sqrt(max(py-p.y, 0)/p.height)
	}
	return p.x + (py-p.y)*p.split
}

// drawMountains paints the layer, in each column x only above row hidden[x], where
// nearer layers will cover everything. Each row is filled peak by peak, nearest
// first, span by span: pixels inside a peak cost a colour mix, only pixels on its
// edges compute coverage, and pixels already covered are skipped.
func drawMountains(c *canvas, m *mountains, mp *mountainPaint, hidden []int32) {
	const margin = 3 // rows: beyond this far from an edge a pixel is surely in or out
	r := m.ridge
	dir := 1.0
	if !m.lightLeft {
		dir = -1
	}
	rem := make([]float32, c.w)
	acc := make([]frgb, c.w)
	last := int32(0)
	for _, v := range hidden {
		last = max(last, v)
	}
	for y := r.top; y < min(int(last), c.h); y++ {
		py := float64(y) + 0.5
		lit, dark := mp.lit[y], mp.dark[y]
		yy := int32(y)
		for x := range rem {
			rem[x], acc[x] = 1, frgb{}
			if yy >= hidden[x] {
				rem[x] = 0 // nothing to draw here
			}
		}
		for k := range m.peaks {
			pk := &m.peaks[k]
			d := py - pk.y
			if d < -margin {
				continue
			}
			ol, or := pk.edges(d + margin)
			x0, x1 := c.colRange(ol-1, or+1)
			il, ir := math.Inf(1), math.Inf(-1) // interior: surely covered
			if d > margin {
				il, ir = pk.edges(d - margin)
			}
			sl := pk.splitAt(py)
			snowy := pk.snow > 0 && d < pk.snow*1.3
			for x := x0; x <= x1; x++ {
				left := rem[x]
				if left < 0.004 {
					continue
				}
				px := float64(x) + 0.5
				cov := float32(1)
				if px < il || px > ir {
					if cov = pk.coverage(px, py); cov <= 0 {
						continue
					}
				}
				sh := float32(clamp((px-sl)*dir+0.5, 0, 1))
				col := lit.mix(dark, sh)
				if snowy {
					sy := pk.y + pk.snow*(1+0.16*triangleWave((px-pk.x)/pk.zig))
					if sc := float32(clamp(sy-py+0.5, 0, 1)); sc > 0 {
						col = col.mix(mp.snowLit.mix(mp.snowDark, sh), sc)
					}
				}
				k := left * cov
				a := &acc[x]
				a.R += col.R * k
				a.G += col.G * k
				a.B += col.B * k
				rem[x] = left - k
			}
		}
		row := c.at(0, y)
		for x, left := range rem {
			a := 1 - left
			if a <= 0.002 || yy >= hidden[x] {
				continue
			}
			col := acc[x]
			i := row + 3*x
			if a >= 0.996 {
				c.set(i, rgb{uint8(col.R + 0.5), uint8(col.G + 0.5), uint8(col.B + 0.5)})
				continue
			}
			inv := 1 / a
			c.blend(i, frgb{col.R * inv, col.G * inv, col.B * inv}, a)
		}
	}
}
