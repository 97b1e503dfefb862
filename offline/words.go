package offline

import (
	"strings"
	"unicode"
)

// feature is one thing a picture can have or a mood it can take; a prompt's words
// switch features on, its negative prompt switches them off.
type feature uint64

const (
	fMountain feature = 1 << iota
	fHill
	fDune
	fWave  // open sea with layered waves
	fWater // calm water that mirrors the land
	fForest
	fCity
	fSun
	fMoon
	fStar
	fCloud
	fPlanet
	fRetro  // synthwave: striped sun over a neon grid floor
	fStripe // banded sky, striped sun, striped tiles
	fGrid
	fPoster // abstract geometric tiles instead of a landscape
	fCircle
	fSquare
	fTriangle
	fBird
	fSnow
	fDay
	fGolden
	fNight
	fVivid
	fPastel
	fMuted
	fMono
	fBlack // with fWhite: black and white
	fWhite
)

// word is what the vocabulary knows about one word.
type word struct {
	feat   feature
	hue    float64 // OKLCH hue in degrees, when hasHue
	hasHue bool
	// colour marks a plain colour word: in a negative prompt it bans its hue. Place
	// words ("forest") tint the picture but ban only the place.
	colour bool
}

func feat(ft feature) word              { return word{feat: ft} }
func tinted(h float64, ft feature) word { return word{feat: ft, hue: h, hasHue: true} }
func colourWord(h float64, ft feature) word {
	return word{feat: ft, hue: h, hasHue: true, colour: true}
}

func negator(w string) bool {
	return w == "no" || w == "without" || w == "not" || w == "never" || w == "nor" || w == "minus"
}
func clauseBreak(w string) bool { return w == "and" || w == "but" || w == "with" || w == "or" }
func letterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
func clausePunct(r rune) bool   { return strings.ContainsRune(",.;:!?()[]{}|/\n", r) }

// lookup finds a word in the vocabulary, trying simple plural forms too.
func lookup(w string) (word, bool) {
	if v, ok := vocabulary(w); ok {
		return v, true
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return vocabulary(w[:len(w)-3] + "y")
	case strings.HasSuffix(w, "es") && len(w) > 3:
		if v, ok := vocabulary(w[:len(w)-2]); ok {
			return v, true
		}
		return vocabulary(w[:len(w)-1])
	case strings.HasSuffix(w, "s") && len(w) > 2:
		return vocabulary(w[:len(w)-1])
	}
	return word{}, false
}

// vocabulary is the table of words that steer the picture. Unknown words still count:
// they are hashed and choose whatever the known words leave open.
func vocabulary(w string) (word, bool) {
	switch w {
	// Landforms.
	case "mountain", "peak", "alp", "alps", "summit", "cliff", "rock", "rocky", "range", "volcano", "himalaya", "highland", "ridge", "everest", "crag":
		return feat(fMountain), true
	case "snow", "snowy", "winter", "ice", "icy", "glacier", "arctic", "frozen", "frost", "polar":
		return tinted(235, fSnow|fMountain), true
	case "hill", "valley", "meadow", "field", "countryside", "landscape", "prairie", "farm", "garden", "park", "grass", "grassland", "pasture", "rolling", "plain", "vineyard", "tuscany":
		return feat(fHill), true
	case "desert", "dune", "sand", "sandy", "sahara", "canyon", "arid", "mirage", "oasis":
		return tinted(65, fDune), true
	case "ocean", "sea", "wave", "surf", "beach", "coast", "shore", "tide", "sail", "sailing", "boat", "ship", "seascape", "marine", "nautical", "island":
		return tinted(230, fWave), true
	case "lake", "river", "pond", "water", "reflection", "lagoon", "bay", "harbor", "harbour", "fjord", "mirror", "calm", "still":
		return feat(fWater), true
	case "forest", "tree", "pine", "wood", "woods", "woodland", "jungle", "taiga", "fir", "cabin", "spruce", "evergreen", "grove", "wilderness":
		return tinted(150, fForest), true
	case "city", "skyline", "building", "skyscraper", "urban", "town", "street", "tower", "downtown", "metropolis", "cityscape", "architecture", "village":
		return feat(fCity), true
	case "cyberpunk":
		return tinted(320, fCity|fNight|fVivid), true
	// Sky.
	case "sun", "sunny", "sunshine", "summer", "sunlight", "solar":
		return feat(fSun), true
	case "sunset", "sunrise", "dusk", "dawn", "evening", "twilight", "golden", "afterglow":
		return feat(fSun | fGolden), true
	case "moon", "lunar", "moonlight", "moonlit", "moonrise", "crescent":
		return feat(fMoon | fNight), true
	case "night", "midnight", "nocturnal", "nighttime", "dark", "darkness":
		return feat(fNight), true
	case "star", "starry", "starlight", "constellation", "starfield":
		return feat(fStar | fNight), true
	case "space", "galaxy", "cosmos", "cosmic", "universe", "nebula", "planet", "saturn", "jupiter", "orbit", "astronaut", "interstellar", "celestial", "alien", "scifi":
		return feat(fPlanet | fStar | fNight), true
	case "cloud", "cloudy", "sky", "fluffy", "storm", "stormy", "weather", "overcast", "rain", "rainy", "heaven", "heavenly":
		return feat(fCloud), true
	case "bird", "flock", "gull", "seagull", "crow", "eagle", "swallow", "flying", "migration":
		return feat(fBird), true
	case "day", "daytime", "morning", "noon", "afternoon", "daylight", "clear":
		return feat(fDay), true
	// Styles of picture.
	case "retro", "synthwave", "vaporwave", "80s", "outrun", "arcade", "retrowave", "1980s":
		return feat(fRetro), true
	case "neon":
		return tinted(330, fVivid|fRetro), true
	case "stripe", "striped", "stripy", "line", "band", "banded", "linear":
		return feat(fStripe), true
	case "grid", "checker", "checkered", "checkerboard", "tile", "tiled", "mosaic", "lattice", "quilt":
		return feat(fGrid), true
	case "abstract", "geometric", "geometry", "pattern", "bauhaus", "shape", "minimal", "minimalist", "modernist", "composition", "poster", "graphic", "swiss", "memphis", "art":
		return feat(fPoster), true
	case "circle", "circular", "round", "dot", "dotted", "polka", "orb", "ring", "bubble", "disc", "disk", "sphere", "ball":
		return feat(fCircle), true
	case "square", "rectangle", "block", "cube", "box", "rectangular":
		return feat(fSquare), true
	case "triangle", "triangular", "pyramid", "diamond", "zigzag":
		return feat(fTriangle), true
	// Palette moods.
	case "vivid", "bright", "colorful", "colourful", "vibrant", "saturated", "bold", "psychedelic", "rainbow", "electric", "pop":
		return feat(fVivid), true
	case "pastel", "soft", "dreamy", "gentle", "pale", "serene", "cozy", "kawaii", "cute", "light", "airy", "delicate":
		return feat(fPastel), true
	case "muted", "dusty", "faded", "gray", "grey", "silver", "foggy", "fog", "mist", "misty", "hazy", "haze", "smoke", "moody":
		return feat(fMuted), true
	case "noir", "monochrome", "monochromatic", "grayscale", "greyscale", "mono", "bw":
		return feat(fMono), true
	case "black", "ink", "shadow":
		return feat(fBlack), true
	case "white":
		return feat(fWhite), true
	// Colours (OKLCH hue angles).
	case "red", "crimson", "scarlet", "ruby", "cherry", "blood", "cardinal":
		return colourWord(27, 0), true
	case "rose", "pink", "blossom", "sakura", "flamingo", "fuchsia", "magenta", "hotpink":
		return colourWord(350, 0), true
	case "purple", "violet", "lavender", "lilac", "plum", "amethyst", "mauve", "orchid":
		return colourWord(305, 0), true
	case "indigo", "navy", "sapphire", "cobalt", "ultramarine":
		return colourWord(270, 0), true
	case "blue", "azure", "cerulean", "denim", "glacial":
		return colourWord(250, 0), true
	case "cyan", "teal", "turquoise", "aqua", "aquamarine", "lagoonblue":
		return colourWord(195, 0), true
	case "green", "emerald", "jade", "mint", "verdant", "lush", "spring", "leaf", "leafy", "moss", "mossy":
		return colourWord(145, 0), true
	case "lime", "chartreuse", "olive", "sage":
		return colourWord(120, 0), true
	case "yellow", "lemon", "banana", "sunflower", "canary", "mustard":
		return colourWord(100, 0), true
	case "gold", "amber", "honey", "brass", "saffron":
		return colourWord(80, fGolden), true
	case "orange", "tangerine", "apricot", "peach", "autumn", "fall", "pumpkin", "fire", "flame", "lava", "ember", "blaze":
		return colourWord(50, 0), true
	case "coral", "salmon", "terracotta", "copper", "rust", "brick":
		return colourWord(38, 0), true
	case "brown", "chocolate", "coffee", "earth", "earthy", "wooden", "bronze", "sepia", "tan", "beige":
		return colourWord(60, fMuted), true
	}
	return word{}, false
}

// stopWord reports words that carry no picture and should not change it.
func stopWord(w string) bool {
	switch w {
	case "a", "an", "the", "of", "in", "on", "at", "by", "to", "for", "from", "over", "under", "into", "onto",
		"is", "are", "with", "and", "or", "its", "it", "this", "that", "very", "some", "few", "many", "lots",
		"image", "picture", "photo", "painting", "illustration", "render", "style", "beautiful", "highly",
		"detailed", "4k", "8k", "hd", "high", "quality", "masterpiece", "best", "trending", "artstation":
		return true
	}
	return false
}

// prompt is what the words of a request ask for.
type prompt struct {
	want  feature
	avoid feature
	// hues are the prompt's plain colour words, in order; tints the hues its places
	// bring ("forest" is green, "desert" sand).
	hues, tints []float64
	// banned are hues the negative prompt names: no colour near them is used.
	banned []float64
	// hash fingerprints the prompt's words (not its stop words), negHash the negative's.
	hash, negHash uint64
	// words counts the prompt's meaningful words.
	words int
}

// has reports whether the prompt asks for ft and does not forbid it.
func (p *prompt) has(ft feature) bool { return p.want&ft != 0 && p.avoid&ft == 0 }

// allows reports whether the negative prompt leaves ft possible.
func (p *prompt) allows(ft feature) bool { return p.avoid&ft == 0 }

// clauses splits text into lowercase words, grouped into clauses at punctuation.
func clauses(text string) [][]string {
	var out [][]string
	var cur []string
	var b strings.Builder
	flushWord := func() {
		if b.Len() > 0 {
			cur = append(cur, b.String())
			b.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case letterOrDigit(r):
			b.WriteRune(r)
		case r == '\'' || r == '’' || r == '-':
			// "night-time", "80's": keep the word whole minus the mark.
		case clausePunct(r):
			flushWord()
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
		default:
			flushWord()
		}
	}
	flushWord()
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// parsePrompt reads a prompt and a negative prompt. In the prompt, "no X" and
// "without X" count as if X were in the negative prompt.
func parsePrompt(text, negative string) *prompt {
	p := &prompt{hash: fnvOffset, negHash: fnvOffset}
	for _, cl := range clauses(text) {
		negated := 0
		for _, w := range cl {
			switch {
			case negator(w):
				negated = 2
				continue
			case clauseBreak(w):
				negated = 0
				continue
			case stopWord(w):
				continue
			}
			if negated > 0 {
				negated--
				p.addNegative(w)
				continue
			}
			p.addPositive(w)
		}
	}
	for _, cl := range clauses(negative) {
		for _, w := range cl {
			if negator(w) || stopWord(w) || clauseBreak(w) {
				continue
			}
			p.addNegative(w)
		}
	}
	// Circles are the sun, the moon and planets too: "no circles" removes them all.
	if p.avoid&fCircle != 0 {
		p.avoid |= fSun | fMoon | fPlanet
	}
	if p.avoid&fWhite != 0 {
		p.avoid |= fSnow
	}
	if p.avoid&fBlack != 0 {
		p.avoid |= fNight
	}
	if p.want&fBlack != 0 && p.want&fWhite != 0 {
		p.want |= fMono
	}
	return p
}

// addPositive records a word of the prompt.
func (p *prompt) addPositive(w string) {
	p.words++
	p.hash = fnv1a(p.hash, w)
	p.hash = fnv1a(p.hash, " ")
	v, ok := lookup(w)
	if !ok {
		return
	}
	p.want |= v.feat
	switch {
	case v.colour:
		p.hues = append(p.hues, v.hue)
	case v.hasHue:
		p.tints = append(p.tints, v.hue)
	}
}

// addNegative records a word of the negative prompt, or one negated in the prompt.
func (p *prompt) addNegative(w string) {
	p.negHash = fnv1a(p.negHash, w)
	p.negHash = fnv1a(p.negHash, " ")
	v, ok := lookup(w)
	if !ok {
		return
	}
	if v.colour {
		// "gold" or "brown" in a negative prompt bans the colour, not the hour or mood.
		p.banned = append(p.banned, v.hue)
		return
	}
	p.avoid |= v.feat
}
