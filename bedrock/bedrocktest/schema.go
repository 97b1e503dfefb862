package bedrocktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Request families and the models the fake knows, written from the Bedrock model
// parameter pages independently of the adapter, so that the adapter's bodies are
// checked against the documentation rather than against themselves.
type family int

const (
	stability family = iota + 1
	amazon
	sdxl
)

type fakeModel struct {
	family family
	sd35   bool   // SD3.5 Large: also image-to-image fields
	nova   bool   // Nova Canvas (else Titan Image v2)
	op     string // a Stability image service: the edit operation it performs
}

func fakeModels() map[string]fakeModel {
	models := map[string]fakeModel{
		"stability.stable-image-core-v1:0":  {family: stability},
		"stability.stable-image-core-v1:1":  {family: stability},
		"stability.stable-image-ultra-v1:0": {family: stability},
		"stability.stable-image-ultra-v1:1": {family: stability},
		"stability.sd3-5-large-v1:0":        {family: stability, sd35: true},
		"amazon.titan-image-generator-v2:0": {family: amazon},
		"amazon.nova-canvas-v1:0":           {family: amazon, nova: true},
		"stability.stable-diffusion-xl-v1":  {family: sdxl},
	}
	for id, op := range imageServices() {
		models[id] = fakeModel{family: stability, op: op}
	}
	return models
}

// baseID strips an ARN's path and a cross-region inference profile prefix.
func baseID(id string) string {
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndexByte(id, '/'); i >= 0 {
			id = id[i+1:]
		}
	}
	for _, p := range []string{"us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global."} {
		if strings.HasPrefix(id, p) {
			return id[len(p):]
		}
	}
	return id
}

// job is a validated request: what to render.
type job struct {
	prompt, negative string
	seed             uint64
	seedGiven        bool
	n                int
	w, h             int // 0 for Stability: taken from aspectRatio
	aspectRatio      string
	format           string
	edit             *editJob // an edit: the result's size and what it comes from
}

// stabilitySizes are the output sizes of SD3.5 / Core / Ultra for each aspect ratio.
func stabilitySizes() map[string][2]int {
	return map[string][2]int{
		"1:1": {1024, 1024}, "16:9": {1344, 768}, "21:9": {1536, 640}, "2:3": {832, 1216},
		"3:2": {1216, 832}, "4:5": {896, 1088}, "5:4": {1088, 896}, "9:16": {768, 1344},
		"9:21": {640, 1536},
	}
}

// invalid is a ValidationException message.
type invalid string

func malformed(path, format string, args ...any) invalid {
	return invalid(fmt.Sprintf("Malformed input request: #%s: %s, please reformat your input and try again.", path, fmt.Sprintf(format, args...)))
}

// object is one decoded JSON object whose fields are taken one by one; whatever is
// left at the end is an extraneous key.
type object struct {
	path   string
	fields map[string]json.RawMessage
}

func parseObject(path string, raw []byte) (*object, invalid) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, malformed(path, "expected type: JSONObject, found: %s", jsonType(raw))
	}
	o := &object{path: path}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&o.fields); err != nil {
		return nil, malformed(path, "invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, malformed(path, "unexpected data after the JSON object")
	}
	return o, ""
}

func jsonType(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch c := raw[0]; {
	case c == '"':
		return "String"
	case c == '{':
		return "JSONObject"
	case c == '[':
		return "JSONArray"
	case c == 't' || c == 'f':
		return "Boolean"
	case c == 'n':
		return "Null"
	default:
		return "Number"
	}
}

func (o *object) take(key string) (json.RawMessage, bool) {
	v, ok := o.fields[key]
	delete(o.fields, key)
	return v, ok
}

// done reports an extraneous key, if any is left.
func (o *object) done() invalid {
	for k := range o.fields {
		return malformed(o.path, "extraneous key [%s] is not permitted", k)
	}
	return ""
}

func (o *object) str(key string, required bool, minLen, maxLen int) (string, bool, invalid) {
	v, ok := o.take(key)
	if !ok {
		if required {
			return "", false, malformed(o.path, "required key [%s] not found", key)
		}
		return "", false, ""
	}
	if jsonType(v) != "String" {
		return "", false, malformed(o.path+"/"+key, "expected type: String, found: %s", jsonType(v))
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, malformed(o.path+"/"+key, "invalid string")
	}
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		return "", false, malformed(o.path+"/"+key, "expected length: [%d, %d], actual: %d", minLen, maxLen, n)
	}
	return s, true, ""
}

func (o *object) enum(key string, values []string) (string, bool, invalid) {
	s, ok, bad := o.str(key, false, 0, 1000)
	if bad != "" || !ok {
		return s, ok, bad
	}
	if !slices.Contains(values, s) {
		return "", false, malformed(o.path+"/"+key, "%s is not a valid enum value", s)
	}
	return s, true, ""
}

func (o *object) num(key string, lo, hi float64, integer bool) (float64, bool, invalid) {
	v, ok := o.take(key)
	if !ok {
		return 0, false, ""
	}
	if jsonType(v) != "Number" {
		return 0, false, malformed(o.path+"/"+key, "expected type: Number, found: %s", jsonType(v))
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, false, malformed(o.path+"/"+key, "invalid number")
	}
	if integer && f != math.Trunc(f) {
		return 0, false, malformed(o.path+"/"+key, "expected type: Integer, found: Number")
	}
	if f < lo || f > hi {
		return 0, false, malformed(o.path+"/"+key, "%v is not in the range [%v, %v]", f, lo, hi)
	}
	return f, true, ""
}

// parseStability checks an SD3.5 / Stable Image Core / Ultra body.
func parseStability(m fakeModel, body []byte) (*job, invalid) {
	o, bad := parseObject("", body)
	if bad != "" {
		return nil, bad
	}
	j := &job{n: 1, aspectRatio: "1:1", format: "png"}
	if j.prompt, _, bad = o.str("prompt", true, 1, 10000); bad != "" {
		return nil, bad
	}
	if j.negative, _, bad = o.str("negative_prompt", false, 0, 10000); bad != "" {
		return nil, bad
	}
	ratios := make([]string, 0, 9)
	for r := range stabilitySizes() {
		ratios = append(ratios, r)
	}
	if ar, ok, bad := o.enum("aspect_ratio", ratios); bad != "" {
		return nil, bad
	} else if ok {
		j.aspectRatio = ar
	}
	if f, ok, bad := o.enum("output_format", []string{"png", "jpeg"}); bad != "" {
		return nil, bad
	} else if ok {
		j.format = f
	}
	seed, ok, bad := o.num("seed", 0, 4294967294, true)
	if bad != "" {
		return nil, bad
	}
	j.seed, j.seedGiven = uint64(seed), ok && seed != 0 // 0 asks for a random seed
	modes := []string{"text-to-image"}
	if m.sd35 {
		modes = append(modes, "image-to-image")
	}
	mode, _, bad := o.enum("mode", modes)
	if bad != "" {
		return nil, bad
	}
	if m.sd35 {
		_, hasImage := o.take("image")
		_, hasStrength, bad := o.num("strength", 0, 1, false)
		if bad != "" {
			return nil, bad
		}
		if mode == "image-to-image" || hasImage || hasStrength {
			return nil, invalid("image-to-image is not supported by this fake: send mode text-to-image without image or strength.")
		}
	}
	return j, o.done()
}

// parseAmazon checks a Titan Image v2 / Nova Canvas TEXT_IMAGE body.
func parseAmazon(m fakeModel, body []byte) (*job, invalid) {
	o, bad := parseObject("", body)
	if bad != "" {
		return nil, bad
	}
	task, _, bad := o.str("taskType", true, 1, 100)
	if bad != "" {
		return nil, bad
	}
	if task != "TEXT_IMAGE" {
		return nil, malformed("/taskType", "%s is not a task type this fake supports (TEXT_IMAGE)", task)
	}
	maxText := 512
	if m.nova {
		maxText = 1024
	}
	raw, ok := o.take("textToImageParams")
	if !ok {
		return nil, malformed("", "required key [textToImageParams] not found")
	}
	tp, bad := parseObject("/textToImageParams", raw)
	if bad != "" {
		return nil, bad
	}
	j := &job{n: 1, w: 1024, h: 1024, format: "png"}
	if j.prompt, _, bad = tp.str("text", true, 1, maxText); bad != "" {
		return nil, bad
	}
	if j.negative, _, bad = tp.str("negativeText", false, 1, maxText); bad != "" {
		return nil, bad
	}
	if m.nova {
		if _, _, bad = tp.enum("style", []string{"3D_ANIMATED_FAMILY_FILM", "DESIGN_SKETCH",
			"FLAT_VECTOR_ILLUSTRATION", "GRAPHIC_NOVEL_ILLUSTRATION", "MAXIMALISM", "MIDCENTURY_RETRO",
			"PHOTOREALISM", "SOFT_DIGITAL_PAINTING"}); bad != "" {
			return nil, bad
		}
	}
	if bad = tp.done(); bad != "" {
		return nil, bad
	}
	j.seed, j.seedGiven = 42, true
	if m.nova {
		j.seed = 12
	}
	if raw, ok := o.take("imageGenerationConfig"); ok {
		if bad := parseAmazonConfig(m, raw, j); bad != "" {
			return nil, bad
		}
	}
	return j, o.done()
}

func parseAmazonConfig(m fakeModel, raw []byte, j *job) invalid {
	c, bad := parseObject("/imageGenerationConfig", raw)
	if bad != "" {
		return bad
	}
	if n, ok, bad := c.num("numberOfImages", 1, 5, true); bad != "" {
		return bad
	} else if ok {
		j.n = int(n)
	}
	w, wok, bad := c.num("width", 1, 4096, true)
	if bad != "" {
		return bad
	}
	h, hok, bad := c.num("height", 1, 4096, true)
	if bad != "" {
		return bad
	}
	if wok != hok {
		return malformed("/imageGenerationConfig", "width and height must be given together")
	}
	if wok {
		j.w, j.h = int(w), int(h)
	}
	if bad := checkAmazonSize(m, j.w, j.h); bad != "" {
		return bad
	}
	if _, _, bad := c.num("cfgScale", 1.1, 10, false); bad != "" {
		return bad
	}
	if s, ok, bad := c.num("seed", 0, 2147483646, true); bad != "" {
		return bad
	} else if ok {
		j.seed = uint64(s)
	}
	if _, _, bad := c.enum("quality", []string{"standard", "premium"}); bad != "" {
		return bad
	}
	return c.done()
}

func checkAmazonSize(m fakeModel, w, h int) invalid {
	if m.nova {
		lo, hi := min(w, h), max(w, h)
		switch {
		case w < 320 || h < 320 || w%16 != 0 || h%16 != 0:
			return invalid(fmt.Sprintf("Invalid dimensions %dx%d: width and height must be 320-4096 and divisible by 16.", w, h))
		case w*h > 4194304:
			return invalid(fmt.Sprintf("Invalid dimensions %dx%d: at most 4,194,304 pixels.", w, h))
		case hi > 4*lo:
			return invalid(fmt.Sprintf("Invalid dimensions %dx%d: the aspect ratio must be between 1:4 and 4:1.", w, h))
		}
		return ""
	}
	for _, s := range [][2]int{
		{1024, 1024}, {768, 768}, {512, 512}, {768, 1152}, {384, 576}, {1152, 768}, {576, 384},
		{768, 1280}, {384, 640}, {1280, 768}, {640, 384}, {896, 1152}, {448, 576}, {1152, 896},
		{576, 448}, {768, 1408}, {384, 704}, {1408, 768}, {704, 384}, {640, 1408}, {320, 704},
		{1408, 640}, {704, 320}, {1152, 640}, {1173, 640},
	} {
		if s[0] == w && s[1] == h {
			return ""
		}
	}
	return invalid(fmt.Sprintf("Invalid dimensions %dx%d: not a size Titan Image Generator supports.", w, h))
}

// parseSDXL checks a legacy SDXL 1.0 body.
func parseSDXL(body []byte) (*job, invalid) {
	o, bad := parseObject("", body)
	if bad != "" {
		return nil, bad
	}
	raw, ok := o.take("text_prompts")
	if !ok {
		return nil, malformed("", "required key [text_prompts] not found")
	}
	var prompts []json.RawMessage
	if jsonType(bytes.TrimSpace(raw)) != "JSONArray" || json.Unmarshal(raw, &prompts) != nil || len(prompts) == 0 {
		return nil, malformed("/text_prompts", "expected a non-empty JSONArray")
	}
	j := &job{n: 1, w: 1024, h: 1024, format: "png"}
	for i, p := range prompts {
		tp, bad := parseObject(fmt.Sprintf("/text_prompts/%d", i), p)
		if bad != "" {
			return nil, bad
		}
		text, _, bad := tp.str("text", true, 1, 2000)
		if bad != "" {
			return nil, bad
		}
		weight, ok, bad := tp.num("weight", -10, 10, false)
		if bad != "" {
			return nil, bad
		}
		if bad := tp.done(); bad != "" {
			return nil, bad
		}
		if ok && weight < 0 {
			j.negative = strings.TrimSpace(j.negative + " " + text)
		} else {
			j.prompt = strings.TrimSpace(j.prompt + " " + text)
		}
	}
	if j.prompt == "" {
		return nil, invalid("text_prompts needs a prompt with a positive weight.")
	}
	checks := []struct {
		key     string
		lo, hi  float64
		integer bool
	}{{"cfg_scale", 0, 35, false}, {"steps", 10, 150, true}, {"samples", 1, 1, true}}
	for _, c := range checks {
		if _, _, bad := o.num(c.key, c.lo, c.hi, c.integer); bad != "" {
			return nil, bad
		}
	}
	if s, ok, bad := o.num("seed", 0, 4294967295, true); bad != "" {
		return nil, bad
	} else {
		j.seed, j.seedGiven = uint64(s), ok && s != 0
	}
	w, wok, bad := o.num("width", 1, 2048, true)
	if bad != "" {
		return nil, bad
	}
	h, hok, bad := o.num("height", 1, 2048, true)
	if bad != "" {
		return nil, bad
	}
	if wok || hok {
		j.w, j.h = int(w), int(h)
		ok := false
		for _, s := range [][2]int{{1024, 1024}, {1152, 896}, {1216, 832}, {1344, 768}, {1536, 640},
			{640, 1536}, {768, 1344}, {832, 1216}, {896, 1152}} {
			ok = ok || (s[0] == j.w && s[1] == j.h)
		}
		if !ok {
			return nil, invalid(fmt.Sprintf("Invalid dimensions %dx%d: not an SDXL size.", j.w, j.h))
		}
	}
	if _, _, bad := o.enum("style_preset", []string{"3d-model", "analog-film", "anime", "cinematic",
		"comic-book", "digital-art", "enhance", "fantasy-art", "isometric", "line-art", "low-poly",
		"modeling-compound", "neon-punk", "origami", "photographic", "pixel-art", "tile-texture"}); bad != "" {
		return nil, bad
	}
	if _, _, bad := o.enum("clip_guidance_preset", []string{"FAST_BLUE", "FAST_GREEN", "NONE", "SIMPLE",
		"SLOW", "SLOWER", "SLOWEST"}); bad != "" {
		return nil, bad
	}
	if _, _, bad := o.enum("sampler", []string{"DDIM", "DDPM", "K_DPMPP_2M", "K_DPMPP_2S_ANCESTRAL",
		"K_DPM_2", "K_DPM_2_ANCESTRAL", "K_EULER", "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS"}); bad != "" {
		return nil, bad
	}
	return j, o.done()
}
