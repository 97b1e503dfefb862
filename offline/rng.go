package offline

// rng is a splitmix64 generator: tiny, fast and the same on every platform, so a seed
// always draws the same picture.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// between returns a number in [lo, hi).
func (r *rng) between(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// intn returns an integer in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// fork returns an independent generator, so that one part of a picture can draw as
// many numbers as it likes without shifting the numbers the next part gets.
func (r *rng) fork() *rng { return newRNG(r.next()) }

// pick returns one of the weights' indexes, chosen with probability proportional to
// its weight; -1 when every weight is zero.
func (r *rng) pick(weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if total <= 0 {
		return -1
	}
	v := r.float() * total
	for i, w := range weights {
		if v < w {
			return i
		}
		v -= w
	}
	for i := len(weights) - 1; i >= 0; i-- {
		if weights[i] > 0 {
			return i
		}
	}
	return -1
}

// fnv1a hashes s, continuing from h (start with fnvOffset).
func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

const fnvOffset = 0xcbf29ce484222325
