package offline

import "math"

// Kinds of terrain layer.
const (
	kHill = iota
	kMountain
	kDune
	kForest
	kCity
	kWave
)

// layer is one band of land (or sea), drawn far to near. Mountains and dunes are
// drawn from their peaks (mnt, paint); the others from their ridge and fill.
type layer struct {
	ridge   *ridge
	mnt     *mountains
	fill    *fill
	paint   *mountainPaint
	windows []window
}

// window is a rectangle of a building's window grid.
type window struct {
	x0, y0, x1, y1 int
	lit            bool
}

func sine(x, wavelength, phase float64) float64 { return math.Sin(2*math.Pi*x/wavelength + phase) }

// hillRidge: smooth rolling hills, a sum of three waves.
func hillRidge(rnd *rng, w, h int, base, amp, unit float64) *ridge {
	l1, l2, l3 := unit*rnd.between(0.9, 1.7), unit*rnd.between(0.35, 0.6), unit*rnd.between(0.12, 0.2)
	p1, p2, p3 := rnd.between(0, 7), rnd.between(0, 7), rnd.between(0, 7)
	return newRidge(w, h, func(x float64) float64 {
		s := 0.55*sine(x, l1, p1) + 0.3*sine(x, l2, p2) + 0.15*sine(x, l3, p3)
		return base - amp*(0.5+0.5*s)
	})
}

// waveRidge: scalloped waves with pointed crests.
func waveRidge(rnd *rng, w, h int, base, amp, wavelength float64) *ridge {
	p1, p2, p3 := rnd.between(0, 7), rnd.between(0, 7), rnd.between(0, 7)
	return newRidge(w, h, func(x float64) float64 {
		crest := math.Pow(1-math.Abs(math.Sin(math.Pi*x/wavelength+p1)), 1.4)
		return base - amp*crest*(0.75+0.25*sine(x, wavelength*3.1, p2)) - amp*0.2*sine(x, wavelength*2.7, p3)
	})
}

// forestRidge: low hills crowded with fir trees.
func forestRidge(rnd *rng, w, h int, base, amp, unit, treeSize float64) *ridge {
	r := hillRidge(rnd, w, h, base, amp, unit)
	hill := func(x float64) float64 {
		i := min(max(int(x*sub), 0), len(r.s)-1)
		return float64(r.s[i])
	}
	x := -treeSize * rnd.float()
	for x < float64(w)+treeSize {
		th := treeSize * rnd.between(0.7, 1.25)
		tw := th * rnd.between(0.5, 0.65)
		if rnd.chance(0.9) {
			raisePine(r, x, hill(x)+th*0.06, th, tw)
		}
		x += tw * rnd.between(0.55, 1.05)
	}
	return r
}

// raisePine adds a three-tier fir tree standing at (cx, foot).
func raisePine(r *ridge, cx, foot, height, width float64) {
	trunk := width * 0.06
	r.raise(cx-trunk, cx+trunk, func(float64) float64 { return foot - height*0.12 })
	for k := range 3 {
		fk := float64(k)
		tierTop := foot - height + fk*height*0.24
		tierBottom := tierTop + height*0.42
		half := width / 2 * (0.55 + 0.225*fk)
		slope := (tierBottom - tierTop) / half
		r.raise(cx-half, cx+half, func(x float64) float64 {
			return tierTop + slope*math.Abs(x-cx)
		})
	}
}

// cityRidge: a skyline of blocks, some with setbacks and masts, and their windows.
func cityRidge(rnd *rng, w, h int, base, amp, unit, scale float64, litShare float64) (*ridge, []window) {
	r := newRidge(w, h, func(float64) float64 { return base })
	var wins []window
	x := -unit * 0.05 * rnd.float()
	for x < float64(w) {
		bw := unit * rnd.between(0.035, 0.09) * scale
		bh := amp * rnd.between(0.3, 1)
		top := base - bh
		x0, x1 := x, x+bw
		r.raise(x0, x1, func(float64) float64 { return top })
		if rnd.chance(0.3) {
			r.raise(x0+bw*0.2, x1-bw*0.2, func(float64) float64 { return top - bh*0.12 })
		}
		if rnd.chance(0.15) {
			mast := math.Max(unit*0.002*scale, 0.7)
			cx := x0 + bw*rnd.between(0.3, 0.7)
			r.raise(cx-mast, cx+mast, func(float64) float64 { return top - bh*0.25 })
		}
		// Windows: a grid inset from the walls.
		pitch := math.Max(unit*0.014*scale, 4)
		cols := int((bw - pitch*0.6) / pitch)
		rows := int((bh - pitch) / pitch)
		ox := x0 + (bw-float64(cols)*pitch)/2
		for j := range rows {
			for i := range cols {
				wx := ox + float64(i)*pitch + pitch*0.22
				wy := top + pitch*0.6 + float64(j)*pitch
				wins = append(wins, window{
					x0: int(math.Round(wx)), y0: int(math.Round(wy)),
					x1: int(math.Round(wx + pitch*0.56)), y1: int(math.Round(wy + pitch*0.5)),
					lit: rnd.chance(litShare),
				})
			}
		}
		x = x1 + unit*rnd.between(0, 0.012)*scale
	}
	return r, wins
}

// drawWindows paints a city layer's windows. Nearer layers, drawn later, cover the
// ones they hide.
func drawWindows(c *canvas, wins []window, lit, unlit rgb) {
	for _, w := range wins {
		col := unlit
		if w.lit {
			col = lit
		}
		c.fillRect(w.x0, w.y0, w.x1, w.y1, col)
	}
}

// misty returns per-row colours for a layer: col at its top, fading towards mist
// between rows from and to.
func misty(h int, col, mist lab, amount, from, to float64) []frgb {
	rows := make([]frgb, h)
	var last frgb
	lastT := -1.0
	for y := range rows {
		t := smoothstep(from, to, float64(y)+0.5) * amount
		t = math.Round(t*256) / 256
		if t != lastT {
			last, lastT = mix(col, mist, t).rgb().f(), t
		}
		rows[y] = last
	}
	return rows
}
