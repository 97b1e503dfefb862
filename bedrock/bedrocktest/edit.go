package bedrocktest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"slices"

	_ "golang.org/x/image/webp" // input images

	"github.com/easelhq/easel/internal/solidwebp"
)

// This file is the fake's side of image editing: the Stability image services (one
// model id per operation) and SD3.5 Large's image-to-image mode, checked against the
// Bedrock user guide's pages ("Stability AI Image Services", "Stable Diffusion 3.5
// Large"), written apart from the adapter's tables so that each checks the other.

// imageServices maps each image service's model id to its operation.
func imageServices() map[string]string {
	return map[string]string{
		"stability.stable-image-inpaint-v1:0":           "inpaint",
		"stability.stable-outpaint-v1:0":                "outpaint",
		"stability.stable-image-erase-object-v1:0":      "erase",
		"stability.stable-image-remove-background-v1:0": "remove-background",
		"stability.stable-image-search-replace-v1:0":    "search-replace",
		"stability.stable-image-search-recolor-v1:0":    "search-recolor",
		"stability.stable-creative-upscale-v1:0":        "upscale-creative",
		"stability.stable-conservative-upscale-v1:0":    "upscale-conservative",
		"stability.stable-fast-upscale-v1:0":            "upscale-fast",
		"stability.stable-image-control-sketch-v1:0":    "sketch",
		"stability.stable-image-control-structure-v1:0": "structure",
		"stability.stable-image-style-guide-v1:0":       "style-guide",
		"stability.stable-style-transfer-v1:0":          "style-transfer",
	}
}

// MaxRequestBody is InvokeModel's limit on a request body ("Member must have length
// less than or equal to 25000000").
const MaxRequestBody = 25_000_000

// imageRule bounds an input image.
type imageRule struct {
	minSide, maxSide     int
	minPixels, maxPixels int
	aspect               float64
}

// The input limits on the user guide's pages.
var (
	standardImage = imageRule{minSide: 64, maxPixels: 9_437_184, aspect: 2.5}
	creativeImage = imageRule{minSide: 64, minPixels: 4096, maxPixels: 1_048_576}
	fastImage     = imageRule{minSide: 32, maxSide: 1536, minPixels: 1024, maxPixels: 1_048_576}
	sd35Image     = imageRule{minSide: 64, maxPixels: 9_437_184, aspect: 2.5} // the SD3.5 page gives only the 64 px side; the fake applies the common limits
)

// key is one body key of an operation.
type key struct {
	kind     string // "text", "image", "number", "integer", "enum"
	required bool
	lo, hi   float64  // numbers; text: length
	values   []string // enum
	image    imageRule
}

func stylePresets() []string {
	return []string{"3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art",
		"enhance", "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
		"origami", "photographic", "pixel-art", "tile-texture"}
}

// editSchemas are the body keys of each operation.
func editSchemas() map[string]map[string]key {
	text := func(required bool) key { return key{kind: "text", required: required, lo: 0, hi: 10000} }
	img := func(r imageRule) key { return key{kind: "image", required: true, image: r} }
	num := func(lo, hi float64) key { return key{kind: "number", lo: lo, hi: hi} }
	integer := func(lo, hi float64) key { return key{kind: "integer", lo: lo, hi: hi} }
	seed := integer(0, 4294967294)
	formats := key{kind: "enum", values: []string{"jpeg", "png", "webp"}}
	presets := key{kind: "enum", values: stylePresets()}
	mask := key{kind: "image"} // optional; the image's alpha otherwise
	grow := integer(0, 20)
	return map[string]map[string]key{
		"inpaint": {"prompt": text(true), "image": img(standardImage), "mask": mask, "grow_mask": grow,
			"negative_prompt": text(false), "seed": seed, "output_format": formats, "style_preset": presets},
		"outpaint": {"image": img(standardImage), "left": integer(0, 2000), "right": integer(0, 2000),
			"up": integer(0, 2000), "down": integer(0, 2000), "creativity": num(0.1, 1), "prompt": text(false),
			"seed": seed, "output_format": formats, "style_preset": presets},
		"erase": {"image": img(standardImage), "mask": mask, "grow_mask": grow, "seed": seed,
			"output_format": formats},
		"remove-background": {"image": img(standardImage), "output_format": formats},
		"search-replace": {"prompt": text(true), "image": img(standardImage), "search_prompt": text(true),
			"negative_prompt": text(false), "grow_mask": grow, "seed": seed, "output_format": formats,
			"style_preset": presets},
		"search-recolor": {"prompt": text(true), "image": img(standardImage), "select_prompt": text(true),
			"negative_prompt": text(false), "grow_mask": grow, "seed": seed, "output_format": formats,
			"style_preset": presets},
		"upscale-creative": {"prompt": text(true), "image": img(creativeImage), "creativity": num(0.1, 0.5),
			"negative_prompt": text(false), "seed": seed, "output_format": formats, "style_preset": presets},
		"upscale-conservative": {"prompt": text(true), "image": img(standardImage), "creativity": num(0.1, 0.5),
			"negative_prompt": text(false), "seed": seed, "output_format": formats},
		"upscale-fast": {"image": img(fastImage), "output_format": formats},
		"sketch": {"prompt": text(true), "image": img(standardImage), "control_strength": num(0, 1),
			"negative_prompt": text(false), "seed": seed, "output_format": formats, "style_preset": presets},
		"structure": {"prompt": text(true), "image": img(standardImage), "control_strength": num(0, 1),
			"negative_prompt": text(false), "seed": seed, "output_format": formats, "style_preset": presets},
		"style-guide": {"prompt": text(true), "image": img(standardImage),
			"aspect_ratio": {kind: "enum", values: []string{"16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"}},
			"fidelity":     num(0, 1), "negative_prompt": text(false), "seed": seed, "output_format": formats,
			"style_preset": presets},
		"style-transfer": {"init_image": img(standardImage), "style_image": img(standardImage),
			"prompt": text(false), "negative_prompt": text(false), "seed": seed, "output_format": formats,
			"composition_fidelity": num(0, 1), "style_strength": num(0, 1), "change_strength": num(0.1, 1)},
		"image-to-image": {"prompt": text(true), "mode": {kind: "enum", required: true, values: []string{"image-to-image"}},
			"image": img(sd35Image), "strength": {kind: "number", required: true, lo: 0, hi: 1},
			"negative_prompt": text(false), "seed": seed, "output_format": formats},
	}
}

// editJob is what an edit request asks the fake to make.
type editJob struct {
	op       string
	source   image.Image // image or init_image, decoded
	mask     image.Image // nil when none was sent
	left, up int         // outpaint's offset of the source in the result
	w, h     int         // the result's size
}

// modeOf reads an SD3.5 body's mode, leniently (the strict check follows).
func modeOf(body []byte) string {
	var b struct {
		Mode string `json:"mode"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Mode
}

// parseEdit checks an edit body strictly: no unknown key, every required key, types,
// ranges, base64 images that decode within the operation's limits, a mask the size of
// the image, and outpaint's at-least-one direction.
func parseEdit(op string, body []byte) (*job, invalid) {
	schema, ok := editSchemas()[op]
	if !ok {
		return nil, invalid("The fake has no schema for " + op)
	}
	o, bad := parseObject("", body)
	if bad != "" {
		return nil, bad
	}
	j := &job{n: 1, format: "png", edit: &editJob{op: op}}
	images := map[string]image.Image{}
	numbers := map[string]float64{}
	names := make([]string, 0, len(schema))
	for name := range schema {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		k := schema[name]
		raw, present := o.fields[name]
		if !present {
			if k.required {
				return nil, malformed("", "required key [%s] not found", name)
			}
			continue
		}
		switch k.kind {
		case "text":
			s, _, bad := o.str(name, k.required, 0, int(k.hi))
			if bad != "" {
				return nil, bad
			}
			if k.required && s == "" {
				return nil, malformed("/"+name, "expected minLength: 1, actual: 0")
			}
		case "enum":
			s, _, bad := o.enum(name, k.values)
			if bad != "" {
				return nil, bad
			}
			switch name {
			case "output_format":
				j.format = s
			case "aspect_ratio":
				j.aspectRatio = s
			}
		case "number", "integer":
			v, _, bad := o.num(name, k.lo, k.hi, k.kind == "integer")
			if bad != "" {
				return nil, bad
			}
			numbers[name] = v
			if name == "seed" {
				j.seed, j.seedGiven = uint64(v), v != 0
			}
		case "image":
			o.take(name)
			img, bad := decodeImage(name, raw, k.image)
			if bad != "" {
				return nil, bad
			}
			images[name] = img
		}
	}
	if bad := o.done(); bad != "" {
		return nil, bad
	}
	src := images["image"]
	if op == "style-transfer" {
		src = images["init_image"]
	}
	j.edit.source, j.edit.mask = src, images["mask"]
	j.edit.left, j.edit.up = int(numbers["left"]), int(numbers["up"])
	b := src.Bounds()
	if m, ok := images["mask"]; ok && m.Bounds().Size() != b.Size() {
		return nil, invalid(fmt.Sprintf("The mask is %dx%d and the image %dx%d: they must be the same size.", m.Bounds().Dx(), m.Bounds().Dy(), b.Dx(), b.Dy()))
	}
	if (op == "inpaint" || op == "erase") && images["mask"] == nil && !transparent(src) {
		return nil, invalid("No mask was given and the image has no transparent pixel to derive one from.")
	}
	if op == "outpaint" && numbers["left"]+numbers["right"]+numbers["up"]+numbers["down"] == 0 {
		return nil, invalid("At least one outpaint direction (left, right, up or down) must be non-zero.")
	}
	if op == "remove-background" && j.format == "jpeg" {
		// The user guide lists jpeg, but a JPEG has no alpha channel: the fake answers
		// as Stability's own API does, which offers only png and webp here.
		return nil, malformed("/output_format", "jpeg is not a valid enum value")
	}
	j.edit.w, j.edit.h = editSize(op, b.Dx(), b.Dy(), numbers, j.aspectRatio)
	// The fake draws one stand-in picture per operation, seed and size, whatever the
	// prompts say: renders are cached across requests, which keeps the conformance
	// suite quick under the race detector.
	j.prompt = "edit " + op
	return j, ""
}

// decodeImage checks one base64 image key: a plain standard-base64 string (no data:
// prefix) of a PNG, JPEG or WebP image that decodes in full, within the limits.
func decodeImage(name string, raw json.RawMessage, r imageRule) (image.Image, invalid) {
	var s string
	if jsonType(bytes.TrimSpace(raw)) != "String" || json.Unmarshal(raw, &s) != nil {
		return nil, malformed("/"+name, "expected type: String, found: %s", jsonType(bytes.TrimSpace(raw)))
	}
	data, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, invalid(fmt.Sprintf("Invalid base64 in %s: %v", name, err))
	}
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil || (format != "png" && format != "jpeg" && format != "webp") {
		return nil, invalid(fmt.Sprintf("%s is not a valid jpeg, png or webp image.", name))
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	lo, hi := min(w, h), max(w, h)
	switch {
	case r.minSide > 0 && lo < r.minSide,
		r.maxSide > 0 && hi > r.maxSide,
		r.minPixels > 0 && w*h < r.minPixels,
		r.maxPixels > 0 && w*h > r.maxPixels,
		r.aspect > 0 && float64(hi) > r.aspect*float64(lo):
		return nil, invalid(fmt.Sprintf("%s has invalid dimensions %dx%d.", name, w, h))
	}
	return img, ""
}

func transparent(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return !o.Opaque()
	}
	return false
}

// editSize is the size of an operation's result.
func editSize(op string, w, h int, n map[string]float64, ratio string) (int, int) {
	switch op {
	case "outpaint":
		return w + int(n["left"]+n["right"]), h + int(n["up"]+n["down"])
	case "upscale-fast":
		return 4 * w, 4 * h
	case "upscale-creative", "upscale-conservative":
		f := 4.0
		if long := float64(max(w, h)); long*f > 4096 {
			f = max(4096/long, 1)
		}
		return int(float64(w)*f + 0.5), int(float64(h)*f + 0.5)
	case "sketch", "structure", "image-to-image":
		r := float64(w) / float64(h)
		return max(int(math.Sqrt(1<<20*r))/64*64, 64), max(int(math.Sqrt(1<<20/r))/64*64, 64)
	case "style-guide":
		if ratio == "" {
			ratio = "1:1"
		}
		s := stabilitySizes()[ratio]
		return s[0], s[1]
	}
	return w, h
}

// editImage makes the result of an edit: a rendered picture of the result's size
// (keyed by the prompt, so different requests differ); for inpaint and erase the
// source where the mask (or the alpha channel) keeps it; for outpaint the source at
// its offset; for remove-background the source with an alpha channel that is
// transparent outside a centred ellipse; a one-colour WebP when WebP is asked for.
func (h *Handler) editImage(j *job, seed uint64) (string, error) {
	e := j.edit
	if h.fixed != nil {
		return h.image(j, seed, e.w, e.h)
	}
	var data []byte
	switch {
	case j.format == "webp":
		data = solidwebp.Encode(e.w, e.h, color.NRGBA{uint8(seed), uint8(seed >> 8), uint8(seed >> 16), 255})
	case e.op == "remove-background":
		b := e.source.Bounds()
		out := image.NewNRGBA(image.Rect(0, 0, e.w, e.h))
		cx, cy := float64(e.w)/2, float64(e.h)/2
		for y := range e.h {
			for x := range e.w {
				c := color.NRGBAModel.Convert(e.source.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				dx, dy := (float64(x)+0.5-cx)/(0.35*float64(e.w)), (float64(y)+0.5-cy)/(0.35*float64(e.h))
				if dx*dx+dy*dy > 1 {
					c.A = 0
				}
				out.SetNRGBA(x, y, c)
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, out); err != nil {
			return "", err
		}
		data = buf.Bytes()
	case e.op == "inpaint" || e.op == "erase" || e.op == "outpaint":
		rendered, err := h.render(j.prompt, j.negative, seed, e.w, e.h, "png")
		if err != nil {
			return "", err
		}
		scene, err := png.Decode(bytes.NewReader(rendered))
		if err != nil {
			return "", err
		}
		out := image.NewNRGBA(image.Rect(0, 0, e.w, e.h))
		b := e.source.Bounds()
		for y := range e.h {
			for x := range e.w {
				c := scene.At(x, y)
				sx, sy := x-e.left, y-e.up
				if inside := sx >= 0 && sy >= 0 && sx < b.Dx() && sy < b.Dy(); inside && e.keeps(sx, sy) {
					c = e.source.At(b.Min.X+sx, b.Min.Y+sy)
				}
				out.Set(x, y, c)
			}
		}
		var buf bytes.Buffer
		if j.format == "jpeg" {
			err = jpeg.Encode(&buf, out, &jpeg.Options{Quality: 90})
		} else {
			err = png.Encode(&buf, out)
		}
		if err != nil {
			return "", err
		}
		data = buf.Bytes()
	default:
		return h.image(j, seed, e.w, e.h)
	}
	return base64.StdEncoding.EncodeToString(data), nil
}

// keeps reports whether the source pixel (x, y) stays: outside the mask (dark), or
// opaque when the mask comes from the alpha channel; outpaint keeps every one.
func (e *editJob) keeps(x, y int) bool {
	if e.op == "outpaint" {
		return true
	}
	if e.mask != nil {
		b := e.mask.Bounds()
		l := color.GrayModel.Convert(e.mask.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
		return l.Y < 128
	}
	_, _, _, a := e.source.At(e.source.Bounds().Min.X+x, e.source.Bounds().Min.Y+y).RGBA()
	return a == 0xffff
}
