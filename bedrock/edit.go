package bedrock

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	asmb64 "github.com/segmentio/asm/base64"

	"github.com/easelhq/easel"
)

// Model ids of the Stability AI Image Services on Bedrock (us-east-1, us-east-2,
// us-west-2; the user guide's examples call them through "us." inference profiles).
// Each performs one edit operation.
const (
	IDStableInpaint             = "stability.stable-image-inpaint-v1:0"
	IDStableOutpaint            = "stability.stable-outpaint-v1:0"
	IDStableErase               = "stability.stable-image-erase-object-v1:0"
	IDStableRemoveBackground    = "stability.stable-image-remove-background-v1:0"
	IDStableSearchReplace       = "stability.stable-image-search-replace-v1:0"
	IDStableSearchRecolor       = "stability.stable-image-search-recolor-v1:0"
	IDStableCreativeUpscale     = "stability.stable-creative-upscale-v1:0"
	IDStableConservativeUpscale = "stability.stable-conservative-upscale-v1:0"
	IDStableFastUpscale         = "stability.stable-fast-upscale-v1:0"
	IDStableControlSketch       = "stability.stable-image-control-sketch-v1:0"
	IDStableControlStructure    = "stability.stable-image-control-structure-v1:0"
	IDStableStyleGuide          = "stability.stable-image-style-guide-v1:0"
	IDStableStyleTransfer       = "stability.stable-style-transfer-v1:0"
)

// ImageServices is the configured id of one model that performs all thirteen image
// services, each operation calling its own Bedrock model id. A geography prefix
// applies to every one: "us.image-services" calls "us.stability.stable-image-…".
const ImageServices = "image-services"

// imageServiceIDs maps each operation of the image services to its model id.
func imageServiceIDs() map[string]string {
	return map[string]string{
		easel.OpInpaint:             IDStableInpaint,
		easel.OpOutpaint:            IDStableOutpaint,
		easel.OpErase:               IDStableErase,
		easel.OpRemoveBackground:    IDStableRemoveBackground,
		easel.OpSearchReplace:       IDStableSearchReplace,
		easel.OpSearchRecolor:       IDStableSearchRecolor,
		easel.OpUpscaleCreative:     IDStableCreativeUpscale,
		easel.OpUpscaleConservative: IDStableConservativeUpscale,
		easel.OpUpscaleFast:         IDStableFastUpscale,
		easel.OpSketch:              IDStableControlSketch,
		easel.OpStructure:           IDStableControlStructure,
		easel.OpStyleGuide:          IDStableStyleGuide,
		easel.OpStyleTransfer:       IDStableStyleTransfer,
	}
}

// ModelIDs returns the Bedrock model ids a configured model calls: one, or the
// thirteen of the image services (with their profile prefix). Use it to check models
// at start-up (CheckModels).
func ModelIDs(configured string) []string {
	id := ResolveAlias(strings.TrimSpace(configured))
	prefix, ok := strings.CutSuffix(id, ImageServices)
	if !ok || (prefix != "" && !strings.HasSuffix(prefix, ".")) {
		return []string{id}
	}
	out := make([]string, 0, 13)
	for _, op := range easel.Operations() {
		if mid, ok := imageServiceIDs()[op]; ok {
			out = append(out, prefix+mid)
		}
	}
	return out
}

// editOperation is what Bedrock documents for one operation (docs/bedrock.md has
// every field with its source).
func editOperation(op string) easel.OperationSpec {
	lim := easel.EditImageLimits()
	prompt := func() *easel.TextParam { return &easel.TextParam{Required: true, MaxLength: 10000} }
	optional := func() *easel.TextParam { return &easel.TextParam{MaxLength: 10000} }
	grow := easel.NumberParam{Min: 0, Max: 20, Default: 5, Integer: true}
	side := easel.NumberParam{Min: 0, Max: 2000, Integer: true}
	unit := func(def float64) easel.NumberParam { return easel.NumberParam{Min: 0, Max: 1, Default: def} }
	const seedMax = 4294967294
	same := easel.OutputRule{Kind: easel.OutputSame}
	upscale := easel.OutputRule{Kind: easel.OutputScale, Factor: 4, MaxSide: 4096}
	mp := easel.OutputRule{Kind: easel.OutputMegapixel}
	var s easel.OperationSpec
	switch op {
	case easel.OpInpaint:
		s = easel.OperationSpec{Description: "Fills or replaces the masked area (or the image's transparent pixels) with what the prompt describes.",
			Mask: easel.MaskOrAlpha, Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"grow_mask": grow}, Output: same}
	case easel.OpOutpaint:
		s = easel.OperationSpec{Description: "Extends the image by the given margins with content that continues it.",
			Prompt: optional(),
			Numbers: map[string]easel.NumberParam{"left": side, "right": side, "up": side, "down": side,
				"creativity": {Min: 0.1, Max: 1, Default: 0.5}},
			AtLeastOneOf: []string{"left", "right", "up", "down"}, Output: easel.OutputRule{Kind: easel.OutputMargins}}
	case easel.OpErase:
		s = easel.OperationSpec{Description: "Removes what the mask (or the image's transparent pixels) covers, keeping the background consistent.",
			Mask: easel.MaskOrAlpha, Numbers: map[string]easel.NumberParam{"grow_mask": grow}, Output: same}
	case easel.OpRemoveBackground:
		s = easel.OperationSpec{Description: "Isolates the subject on a transparent background.",
			OutputFormats: []string{"png", "webp"}, Output: same}
	case easel.OpSearchReplace:
		s = easel.OperationSpec{Description: "Finds what search_prompt names and replaces it with what the prompt describes.",
			Prompt: prompt(), SearchPrompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"grow_mask": grow}, Output: same}
	case easel.OpSearchRecolor:
		s = easel.OperationSpec{Description: "Finds what select_prompt names and recolors it as the prompt describes.",
			Prompt: prompt(), SelectPrompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"grow_mask": grow}, Output: same}
	case easel.OpUpscaleCreative:
		small := lim
		small.MinPixels, small.MaxPixels, small.MaxAspect = 4096, 1<<20, 0
		s = easel.OperationSpec{Description: "Upscales a small or degraded image (at most 1 MP) towards 4K, reimagining detail.",
			Image: small, Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"creativity": {Min: 0.1, Max: 0.5, Default: 0.3}}, Output: upscale}
	case easel.OpUpscaleConservative:
		s = easel.OperationSpec{Description: "Upscales towards 4K while preserving the image as it is.",
			Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"creativity": {Min: 0.1, Max: 0.5, Default: 0.35}}, Output: upscale}
	case easel.OpUpscaleFast:
		fast := lim
		fast.MinSide, fast.MaxSide, fast.MinPixels, fast.MaxPixels, fast.MaxAspect = 32, 1536, 1024, 1<<20, 0
		s = easel.OperationSpec{Description: "Quadruples each side, quickly.",
			Image: fast, Output: easel.OutputRule{Kind: easel.OutputScale, Factor: 4}}
	case easel.OpSketch:
		s = easel.OperationSpec{Description: "Turns a sketch (or an image's contours) into a finished picture of the prompt.",
			Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"control_strength": unit(0.7)}, Output: mp}
	case easel.OpStructure:
		s = easel.OperationSpec{Description: "Makes a picture of the prompt that keeps the image's structure.",
			Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"control_strength": unit(0.7)}, Output: mp}
	case easel.OpStyleGuide:
		s = easel.OperationSpec{Description: "Makes a picture of the prompt in the style of the image.",
			Prompt: prompt(), NegativePrompt: optional(),
			AspectRatios: stabilityAspectRatios(), DefaultAspectRatio: "1:1",
			Numbers: map[string]easel.NumberParam{"fidelity": unit(0.5)}, Output: easel.OutputRule{Kind: easel.OutputAspectRatio}}
	case easel.OpStyleTransfer:
		s = easel.OperationSpec{Description: "Restyles the image after the style image, keeping its composition.",
			StyleImage: &lim, Prompt: optional(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"composition_fidelity": unit(0.9), "style_strength": unit(1),
				"change_strength": {Min: 0.1, Max: 1, Default: 0.9}}, Output: same}
	case easel.OpImageToImage:
		s = easel.OperationSpec{Description: "Makes a picture of the prompt from the image; strength 0 keeps the image, 1 ignores it.",
			Prompt: prompt(), NegativePrompt: optional(),
			Numbers: map[string]easel.NumberParam{"strength": unit(0.7)}, Output: mp}
	}
	if s.Image.MaxBytes == 0 {
		s.Image = lim
	}
	if s.OutputFormats == nil {
		s.OutputFormats = []string{"png", "jpeg", "webp"}
	}
	if op != easel.OpRemoveBackground && op != easel.OpUpscaleFast {
		s.SeedMax = seedMax
	}
	switch op {
	case easel.OpErase, easel.OpRemoveBackground, easel.OpUpscaleFast, easel.OpUpscaleConservative,
		easel.OpStyleTransfer, easel.OpImageToImage:
	default:
		s.StylePresets = sdxlStyles() // the same 17 presets
	}
	return s
}

// imageServiceSpec is the spec of one image service (edit only).
func imageServiceSpec(op, name string) easel.ModelSpec {
	o := editOperation(op)
	return easel.ModelSpec{
		Name: name, Provider: "bedrock", EditOnly: true,
		Description:   "Stability AI's " + name + " image service on Amazon Bedrock: " + o.Description,
		OutputFormats: o.OutputFormats,
		Operations:    map[string]easel.OperationSpec{op: o},
	}
}

// imageServicesSpec is the spec of the model that performs every image service.
func imageServicesSpec() easel.ModelSpec {
	ops := map[string]easel.OperationSpec{}
	for op := range imageServiceIDs() {
		ops[op] = editOperation(op)
	}
	return easel.ModelSpec{
		Name: "Stability AI Image Services", Provider: "bedrock", EditOnly: true,
		Description:   "Stability AI's thirteen image editing services on Amazon Bedrock, one model per operation.",
		OutputFormats: []string{"png", "jpeg", "webp"},
		Operations:    ops,
	}
}

// newImageServices builds the model of ImageServices: one inner Model per
// operation, each with its own concurrency limit (Bedrock's quotas are per model).
func newImageServices(client *bedrockruntime.Client, configured string, opts Options) (*Model, error) {
	prefix := strings.TrimSuffix(strings.TrimSpace(configured), ImageServices)
	opts = opts.withDefaults()
	m := &Model{client: client, modelID: configured, info: modelInfo{bundle: true, spec: imageServicesSpec()},
		opts: opts, sem: make(chan struct{}, opts.MaxConcurrency), ops: map[string]*Model{}}
	m.spec = m.info.spec
	m.spec.ID = configured
	m.log = opts.Logger.With("model", configured)
	for op, id := range imageServiceIDs() {
		inner, err := New(client, prefix+id, opts)
		if err != nil {
			return nil, err
		}
		m.ops[op] = inner
	}
	return m, nil
}

// Edit performs one edit operation. The request is validated (and normalized)
// again here, from the images' headers, so nothing Bedrock would refuse is paid for.
// The image services and SD3.5's image-to-image make one image per call; it is a
// subslice of the answer buffer (decoded in place).
func (m *Model) Edit(ctx context.Context, req *easel.EditRequest) (*easel.Generation, error) {
	ins, err := m.spec.InspectEdit(req)
	if err != nil {
		return nil, err
	}
	op, _ := m.spec.Operation(req.Operation)
	r := *req
	m.spec.NormalizeEdit(&r)
	target := m
	if inner := m.ops[r.Operation]; inner != nil {
		target = inner
	}
	var seed uint64
	if op.SeedMax > 0 {
		if r.Seed != nil {
			seed = *r.Seed
		} else {
			seed = rand.Uint64N(op.SeedMax + 1) // 0 asks Stability for a random one
		}
	}
	body := editBody(&r, op, seed)
	out, err := target.invoke(ctx, body)
	if err != nil {
		return nil, err
	}
	a, err := decodeResponse(out.b)
	if err != nil {
		target.log.Error("bedrock answer unreadable", "err", err, "bytes", len(out.b))
		out.free()
		return nil, easel.WrapError(easel.EModelError, err, "The model returned an unreadable answer.")
	}
	gen, err := target.collectEdit(a, &r, op, ins, seed)
	if err != nil {
		out.free() // no image refers to it
		return nil, err
	}
	out.share(gen.Images) // the image is a subslice of out: freed when it is released
	return gen, nil
}

// editBody writes the InvokeModel body of a normalized edit request: the fields the
// operation takes, with images as plain base64 strings. The body is sized up front
// and written in one buffer; images are base64-encoded straight into it (SIMD).
func editBody(r *easel.EditRequest, op *easel.OperationSpec, seed uint64) []byte {
	texts := []struct {
		key, v string
	}{{"prompt", r.Prompt}, {"negative_prompt", r.NegativePrompt}, {"search_prompt", r.SearchPrompt}, {"select_prompt", r.SelectPrompt}}
	size := 256 + len(r.AspectRatio) + len(r.StylePreset) + len(r.OutputFormat)
	for _, t := range texts {
		size += 24 + 6*len(t.v)
	}
	for _, img := range [][]byte{r.Image, r.Mask, r.StyleImage} {
		size += 20 + asmb64.StdEncoding.EncodedLen(len(img))
	}
	size += 40 * len(op.Numbers)
	b := make([]byte, 0, size)
	b = append(b, '{')
	key := func(k string) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
	}
	for _, t := range texts {
		if t.v != "" {
			key(t.key)
			b = appendJSONString(b, t.v)
		}
	}
	if r.Operation == easel.OpImageToImage {
		key("mode")
		b = append(b, `"image-to-image"`...)
	}
	for _, name := range easel.EditNumberFields() {
		p, takes := op.Numbers[name]
		if !takes {
			continue
		}
		v, _ := r.Number(name)
		key(name)
		if p.Integer {
			b = strconv.AppendInt(b, int64(v), 10)
		} else {
			b = strconv.AppendFloat(b, v, 'f', -1, 64)
		}
	}
	if len(op.AspectRatios) > 0 {
		key("aspect_ratio")
		b = appendJSONString(b, r.AspectRatio)
	}
	if op.SeedMax > 0 {
		key("seed")
		b = strconv.AppendUint(b, seed, 10)
	}
	if r.StylePreset != "" {
		key("style_preset")
		b = appendJSONString(b, r.StylePreset)
	}
	key("output_format")
	b = appendJSONString(b, r.OutputFormat)
	imageKey := "image"
	if r.Operation == easel.OpStyleTransfer {
		imageKey = "init_image"
	}
	for _, img := range []struct {
		key  string
		data []byte
	}{{imageKey, r.Image}, {"mask", r.Mask}, {"style_image", r.StyleImage}} {
		if len(img.data) == 0 {
			continue
		}
		key(img.key)
		b = append(b, '"')
		n := asmb64.StdEncoding.EncodedLen(len(img.data))
		b = b[:len(b)+n]
		asmb64.StdEncoding.Encode(b[len(b)-n:], img.data)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	return append(b, '"')
}

// collectEdit turns the answer to an edit into its one image, or into the error the
// finish reason says: a refused input image is EContentPolicy with param "image".
func (m *Model) collectEdit(a *answer, r *easel.EditRequest, op *easel.OperationSpec, ins *easel.EditInputs, seed uint64) (*easel.Generation, error) {
	for _, s := range a.slots {
		if s.reason != "" {
			switch side := reasonSide(s.reason); {
			case strings.Contains(strings.ToLower(s.reason), "input image"):
				return nil, &easel.Error{Code: easel.EContentPolicy, Param: "image",
					Message: "The model's content filter refused the input image. Retrying the same request will not help."}
			case side == filteredPrompt:
				return nil, contentPolicy(true, nil)
			case side == filteredOutput:
				return nil, contentPolicy(false, nil)
			default:
				m.log.Error("bedrock model failed", "reason", s.reason, "operation", r.Operation)
				return nil, easel.Errorf(easel.EModelError, "The model failed to edit the image (%s).", truncate(s.reason, 120))
			}
		}
		if s.data == nil {
			continue
		}
		info, err := checkEditImage(s.data)
		if err != nil {
			m.log.Error("bedrock returned a broken image", "err", err, "bytes", len(s.data), "operation", r.Operation)
			return nil, easel.WrapError(easel.EModelError, err, "The model returned an image that could not be read.")
		}
		want := op.OutputSize(easel.Size{Width: ins.Image.Width, Height: ins.Image.Height}, r)
		if info.Width != want.Width || info.Height != want.Height || info.Format != r.OutputFormat {
			m.log.Info("bedrock edit result differs from the expected shape", "operation", r.Operation,
				"want", fmt.Sprintf("%s %dx%d", r.OutputFormat, want.Width, want.Height),
				"got", fmt.Sprintf("%s %dx%d", info.Format, info.Width, info.Height))
		}
		img := easel.GeneratedImage{Data: s.data, ContentType: info.ContentType(), Seed: seed, Width: info.Width, Height: info.Height}
		if s.hasSeed {
			img.Seed = s.seed
		}
		return &easel.Generation{Images: []easel.GeneratedImage{img}}, nil
	}
	return nil, easel.Errorf(easel.EModelError, "The model returned no image.")
}

// checkEditImage reads a returned image's header and checks that the image is whole:
// a PNG ends with IEND, a JPEG with EOI, a WebP's RIFF size matches its length.
func checkEditImage(data []byte) (easel.ImageInfo, error) {
	info, err := easel.InspectImage(data)
	if err != nil {
		return info, err
	}
	switch info.Format {
	case "png":
		if !hasSuffix(data, pngIEND) {
			return info, errors.New("truncated PNG: no IEND chunk")
		}
	case "jpeg":
		if !bytes.HasSuffix(data, []byte{0xff, 0xd9}) {
			return info, errors.New("truncated JPEG: no EOI marker")
		}
	case "webp":
		if n := int(binary.LittleEndian.Uint32(data[4:8])); n+8 != len(data) {
			return info, fmt.Errorf("truncated WebP: RIFF size %d, %d bytes", n, len(data)-8)
		}
	}
	return info, nil
}
