package bedrock

import (
	"encoding/json"
	"fmt"

	"github.com/easelhq/easel"
)

// stabilityRequest is the body of SD3.5 Large, Stable Image Core and Ultra.
type stabilityRequest struct {
	Prompt         string `json:"prompt"`
	NegativePrompt string `json:"negative_prompt,omitempty"`
	Mode           string `json:"mode,omitempty"` // SD3.5 only
	AspectRatio    string `json:"aspect_ratio,omitempty"`
	Seed           uint64 `json:"seed"` // 0 asks the model for a random seed
	OutputFormat   string `json:"output_format,omitempty"`
}

// amazonRequest is the TEXT_IMAGE body of Titan Image v2 and Nova Canvas.
type amazonRequest struct {
	TaskType              string       `json:"taskType"`
	TextToImageParams     amazonText   `json:"textToImageParams"`
	ImageGenerationConfig amazonConfig `json:"imageGenerationConfig"`
}

type amazonText struct {
	Text string `json:"text"`
	// NegativeText must be 1-1024 characters when present, so it is left out when empty.
	NegativeText string `json:"negativeText,omitempty"`
	Style        string `json:"style,omitempty"` // Nova Canvas only
}

type amazonConfig struct {
	NumberOfImages int      `json:"numberOfImages"`
	Width          int      `json:"width"`
	Height         int      `json:"height"`
	CFGScale       *float64 `json:"cfgScale,omitempty"`
	Seed           uint64   `json:"seed"`
	Quality        string   `json:"quality,omitempty"`
}

// sdxlRequest is the legacy SDXL 1.0 body.
type sdxlRequest struct {
	TextPrompts []sdxlPrompt `json:"text_prompts"`
	CFGScale    *float64     `json:"cfg_scale,omitempty"`
	Seed        uint64       `json:"seed"`
	Steps       int          `json:"steps"`
	Width       int          `json:"width"`
	Height      int          `json:"height"`
	StylePreset string       `json:"style_preset,omitempty"`
	Samples     int          `json:"samples"`
}

type sdxlPrompt struct {
	Text   string  `json:"text"`
	Weight float64 `json:"weight"`
}

// sdxlSteps is SDXL's documented default number of diffusion steps.
const sdxlSteps = 30

// requestBody builds the InvokeModel body for n images of a normalized, validated
// request.
func (m *Model) requestBody(req *easel.GenerateRequest, n int, seed uint64) ([]byte, error) {
	var v any
	switch m.info.family {
	case familyStability:
		r := stabilityRequest{
			Prompt:         req.Prompt,
			NegativePrompt: req.NegativePrompt,
			AspectRatio:    req.AspectRatio,
			Seed:           seed,
			OutputFormat:   req.OutputFormat,
		}
		if m.info.sd35 {
			r.Mode = "text-to-image"
		}
		v = r
	case familyAmazon:
		v = amazonRequest{
			TaskType: "TEXT_IMAGE",
			TextToImageParams: amazonText{
				Text:         req.Prompt,
				NegativeText: req.NegativePrompt,
				Style:        req.Style,
			},
			ImageGenerationConfig: amazonConfig{
				NumberOfImages: n,
				Width:          req.Width,
				Height:         req.Height,
				CFGScale:       req.CFGScale,
				Seed:           seed,
				Quality:        req.Quality,
			},
		}
	case familySDXL:
		r := sdxlRequest{
			TextPrompts: []sdxlPrompt{{Text: req.Prompt, Weight: 1}},
			CFGScale:    req.CFGScale,
			Seed:        seed,
			Steps:       sdxlSteps,
			Width:       req.Width,
			Height:      req.Height,
			StylePreset: req.Style,
			Samples:     1,
		}
		if req.NegativePrompt != "" {
			r.TextPrompts = append(r.TextPrompts, sdxlPrompt{Text: req.NegativePrompt, Weight: -1})
		}
		v = r
	default:
		return nil, fmt.Errorf("bedrock: model %s: no request family", m.modelID)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", m.modelID, err)
	}
	return b, nil
}
