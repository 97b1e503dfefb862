package bedrock

import (
	"fmt"
	"slices"
	"strings"

	"github.com/easelhq/easel"
)

// family is a request/response shape shared by several models.
type family int

const (
	familyStability family = iota + 1 // SD3.5, Stable Image Core and Ultra: one image per call
	familyAmazon                      // Titan Image v2, Nova Canvas: TEXT_IMAGE task, n images per call
	familySDXL                        // legacy SDXL 1.0: text_prompts in, artifacts out
)

// Model ids of the models this package knows. Ids live in configuration; these are only
// the keys of the limits table below.
const (
	IDStableImageCore  = "stability.stable-image-core-v1:1"
	IDStableImageUltra = "stability.stable-image-ultra-v1:1"
	IDSD35Large        = "stability.sd3-5-large-v1:0"
	IDTitanImageV2     = "amazon.titan-image-generator-v2:0"
	IDNovaCanvas       = "amazon.nova-canvas-v1:0"
	IDSDXL             = "stability.stable-diffusion-xl-v1"
)

// ResolveAlias returns the model id a short alias (core, ultra, sd3.5, titan,
// nova-canvas) stands for, and any other string unchanged.
func ResolveAlias(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "core":
		return IDStableImageCore
	case "ultra":
		return IDStableImageUltra
	case "sd3.5":
		return IDSD35Large
	case "titan":
		return IDTitanImageV2
	case "nova-canvas":
		return IDNovaCanvas
	}
	return s
}

// isAlias reports whether s is one of ResolveAlias's short names.
func isAlias(s string) bool { return ResolveAlias(s) != s }

// BaseModelID returns the foundation-model id behind a configured id: an alias is
// resolved, a cross-region inference profile prefix and an ARN's resource path are
// removed. It does not check that the model is known.
func BaseModelID(id string) string {
	id = ResolveAlias(strings.TrimSpace(id))
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndexByte(id, '/'); i >= 0 {
			id = id[i+1:]
		}
	}
	// Geography prefixes of cross-region inference profiles ("us.stability....").
	for _, p := range []string{"us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global."} {
		if strings.HasPrefix(id, p) {
			return id[len(p):]
		}
	}
	return id
}

// modelInfo is what the adapter knows of one model: its family and its limits.
type modelInfo struct {
	family family
	spec   easel.ModelSpec
	// sd35 marks SD3.5, whose body carries "mode".
	sd35 bool
	// bundle marks ImageServices: one model per operation behind one configured id.
	bundle bool
}

func stabilityAspectRatios() []string {
	return []string{"1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"}
}

// stabilityMaxImages bounds n for the one-image-per-call Stability models: n images
// cost n calls, so n stays small.
const stabilityMaxImages = 4

func stabilitySpec(name, desc string) easel.ModelSpec {
	return easel.ModelSpec{
		Name:               name,
		Provider:           "bedrock",
		Description:        desc,
		MaxPromptLength:    10000,
		NegativePrompt:     true,
		AspectRatios:       stabilityAspectRatios(),
		DefaultAspectRatio: "1:1",
		MaxImages:          stabilityMaxImages,
		ImagesPerCall:      1,
		SeedMax:            4294967294,
		OutputFormats:      []string{"png", "jpeg"},
	}
}

// sizes turns width, height pairs into sizes.
func sizes(wh ...int) []easel.Size {
	out := make([]easel.Size, 0, len(wh)/2)
	for i := 0; i+1 < len(wh); i += 2 {
		out = append(out, easel.Size{Width: wh[i], Height: wh[i+1]})
	}
	return out
}

func titanSizes() []easel.Size {
	return sizes(
		1024, 1024, 768, 768, 512, 512, 768, 1152,
		384, 576, 1152, 768, 576, 384, 768, 1280,
		384, 640, 1280, 768, 640, 384, 896, 1152,
		448, 576, 1152, 896, 576, 448, 768, 1408,
		384, 704, 1408, 768, 704, 384, 640, 1408,
		320, 704, 1408, 640, 704, 320, 1152, 640,
		1173, 640,
	)
}

func novaStyles() []string {
	return []string{
		"3D_ANIMATED_FAMILY_FILM", "DESIGN_SKETCH", "FLAT_VECTOR_ILLUSTRATION",
		"GRAPHIC_NOVEL_ILLUSTRATION", "MAXIMALISM", "MIDCENTURY_RETRO", "PHOTOREALISM",
		"SOFT_DIGITAL_PAINTING",
	}
}

func sdxlSizes() []easel.Size {
	return sizes(
		1024, 1024, 1152, 896, 1216, 832, 1344, 768,
		1536, 640, 640, 1536, 768, 1344, 832, 1216,
		896, 1152,
	)
}

func sdxlStyles() []string {
	return []string{
		"3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
		"fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
		"origami", "photographic", "pixel-art", "tile-texture",
	}
}

// amazonSeedMax is the documented seed range of Titan Image v2 and Nova Canvas
// (0..2,147,483,646). See docs/bedrock.md.
const amazonSeedMax = 2147483646

// knownModels returns the limits table, keyed by foundation-model id. It is built
// afresh on each call, so no caller can change another's limits.
func knownModels() map[string]modelInfo {
	return map[string]modelInfo{
		IDStableImageCore: {family: familyStability, spec: stabilitySpec("Stable Image Core",
			"Stability AI's fast, low-cost text-to-image model on Amazon Bedrock.")},
		"stability.stable-image-core-v1:0": {family: familyStability, spec: stabilitySpec("Stable Image Core",
			"Stability AI's fast, low-cost text-to-image model on Amazon Bedrock.")},
		IDStableImageUltra: {family: familyStability, spec: stabilitySpec("Stable Image Ultra",
			"Stability AI's highest-quality text-to-image model on Amazon Bedrock.")},
		"stability.stable-image-ultra-v1:0": {family: familyStability, spec: stabilitySpec("Stable Image Ultra",
			"Stability AI's highest-quality text-to-image model on Amazon Bedrock.")},
		IDSD35Large: {family: familyStability, sd35: true, spec: sd35Spec()},
		IDTitanImageV2: {family: familyAmazon, spec: easel.ModelSpec{
			Name:            "Titan Image Generator G1 v2",
			Provider:        "bedrock",
			Description:     "Amazon's Titan image model (end of life on Bedrock in 2026).",
			MaxPromptLength: 512,
			NegativePrompt:  true,
			Sizes:           titanSizes(),
			DefaultSize:     easel.Size{Width: 1024, Height: 1024},
			MaxImages:       5,
			SeedMax:         amazonSeedMax,
			CFGScale:        &easel.FloatRange{Min: 1.1, Max: 10, Default: 8},
			Qualities:       []string{"standard", "premium"},
			OutputFormats:   []string{"png"},
		}},
		IDNovaCanvas: {family: familyAmazon, spec: easel.ModelSpec{
			Name:            "Amazon Nova Canvas",
			Provider:        "bedrock",
			Description:     "Amazon's Nova Canvas image model (end of life on Bedrock in 2026).",
			MaxPromptLength: 1024,
			NegativePrompt:  true,
			SizeRange: &easel.SizeRange{Min: 320, Max: 4096, Step: 16,
				MaxPixels: 4194304, MaxAspect: 4},
			DefaultSize:   easel.Size{Width: 1024, Height: 1024},
			MaxImages:     5,
			SeedMax:       amazonSeedMax,
			CFGScale:      &easel.FloatRange{Min: 1.1, Max: 10, Default: 6.5},
			Styles:        novaStyles(),
			Qualities:     []string{"standard", "premium"},
			OutputFormats: []string{"png"},
		}},
		IDSDXL: {family: familySDXL, spec: easel.ModelSpec{
			Name:            "Stable Diffusion XL 1.0 (legacy)",
			Provider:        "bedrock",
			Description:     "Stability AI's SDXL 1.0, kept for accounts that still have it.",
			MaxPromptLength: 2000,
			NegativePrompt:  true,
			Sizes:           sdxlSizes(),
			DefaultSize:     easel.Size{Width: 1024, Height: 1024},
			MaxImages:       stabilityMaxImages,
			ImagesPerCall:   1,
			SeedMax:         4294967295,
			CFGScale:        &easel.FloatRange{Min: 0, Max: 35, Default: 7},
			Styles:          sdxlStyles(),
			OutputFormats:   []string{"png"},
		}},
		IDStableInpaint:             {family: familyStability, spec: imageServiceSpec(easel.OpInpaint, "Stable Image Inpaint")},
		IDStableOutpaint:            {family: familyStability, spec: imageServiceSpec(easel.OpOutpaint, "Stable Image Outpaint")},
		IDStableErase:               {family: familyStability, spec: imageServiceSpec(easel.OpErase, "Stable Image Erase Object")},
		IDStableRemoveBackground:    {family: familyStability, spec: imageServiceSpec(easel.OpRemoveBackground, "Stable Image Remove Background")},
		IDStableSearchReplace:       {family: familyStability, spec: imageServiceSpec(easel.OpSearchReplace, "Stable Image Search and Replace")},
		IDStableSearchRecolor:       {family: familyStability, spec: imageServiceSpec(easel.OpSearchRecolor, "Stable Image Search and Recolor")},
		IDStableCreativeUpscale:     {family: familyStability, spec: imageServiceSpec(easel.OpUpscaleCreative, "Stable Image Creative Upscale")},
		IDStableConservativeUpscale: {family: familyStability, spec: imageServiceSpec(easel.OpUpscaleConservative, "Stable Image Conservative Upscale")},
		IDStableFastUpscale:         {family: familyStability, spec: imageServiceSpec(easel.OpUpscaleFast, "Stable Image Fast Upscale")},
		IDStableControlSketch:       {family: familyStability, spec: imageServiceSpec(easel.OpSketch, "Stable Image Control Sketch")},
		IDStableControlStructure:    {family: familyStability, spec: imageServiceSpec(easel.OpStructure, "Stable Image Control Structure")},
		IDStableStyleGuide:          {family: familyStability, spec: imageServiceSpec(easel.OpStyleGuide, "Stable Image Style Guide")},
		IDStableStyleTransfer:       {family: familyStability, spec: imageServiceSpec(easel.OpStyleTransfer, "Stable Image Style Transfer")},
		ImageServices:               {family: familyStability, bundle: true, spec: imageServicesSpec()},
	}
}

// sd35Spec is SD3.5 Large: text to image, and image to image (mode image-to-image).
func sd35Spec() easel.ModelSpec {
	s := stabilitySpec("Stable Diffusion 3.5 Large", "Stability AI's 8-billion-parameter SD3.5 Large on Amazon Bedrock.")
	s.Operations = map[string]easel.OperationSpec{easel.OpImageToImage: editOperation(easel.OpImageToImage)}
	return s
}

// lookup returns what the adapter knows of a configured model id.
func lookup(id string) (modelInfo, error) {
	base := BaseModelID(id)
	info, ok := knownModels()[base]
	if !ok {
		return modelInfo{}, fmt.Errorf("bedrock: unknown image model %q (known: %s; aliases: core, ultra, sd3.5, titan, nova-canvas, [us.]image-services)",
			id, strings.Join(KnownModelIDs(), ", "))
	}
	return info, nil
}

// KnownModelIDs returns the foundation-model ids this package has limits for, sorted.
func KnownModelIDs() []string {
	models := knownModels()
	ids := make([]string, 0, len(models))
	for k := range models {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	return ids
}
