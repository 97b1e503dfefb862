package httpapi

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/easelhq/easel"
)

// openAIRequest is the body of OpenAI's POST /v1/images/generations. Fields Easel has
// no use for are accepted and ignored, so existing clients work unchanged.
type openAIRequest struct {
	Prompt         string `json:"prompt"`
	Model          string `json:"model,omitempty"`
	N              int    `json:"n,omitempty"`
	Size           string `json:"size,omitempty"`
	Quality        string `json:"quality,omitempty"`
	Style          string `json:"style,omitempty"`
	ResponseFormat string `json:"response_format,omitempty"`
	User           string `json:"user,omitempty"`
	OutputFormat   string `json:"output_format,omitempty"`
	Background     string `json:"background,omitempty"`
	Moderation     string `json:"moderation,omitempty"`
}

type openAIImage struct {
	URL           string `json:"url,omitempty"`
	B64JSON       string `json:"b64_json,omitempty"`
	RevisedPrompt string `json:"revised_prompt,omitempty"`
}

// openAIGenerations serves the OpenAI Images API shape on Easel's models. OpenAI's own
// model names ("dall-e-3", "gpt-image-1", ...) select the default model.
func (s *Server) openAIGenerations(w http.ResponseWriter, r *http.Request) {
	var in openAIRequest
	adm, done, ok := s.startGenerate(w, r, &in, false)
	if !ok {
		return
	}
	defer done()
	req := easel.GenerateRequest{Prompt: in.Prompt, N: in.N, OutputFormat: in.OutputFormat}
	if in.Model != "" && !isOpenAIModel(in.Model) {
		req.Model = in.Model
	}
	if in.ResponseFormat != "" && in.ResponseFormat != "url" && in.ResponseFormat != "b64_json" {
		s.writeError(w, r, easel.ParamErrorf("response_format", "response_format must be url or b64_json."))
		return
	}
	if in.Size != "" && in.Size != "auto" {
		w0, h0, ok := parseSize(in.Size)
		if !ok {
			s.writeError(w, r, easel.ParamErrorf("size", "size must look like 1024x1024."))
			return
		}
		s.applySize(&req, w0, h0)
	}
	res, err := s.cfg.Service.GenerateAdmitted(r.Context(), adm, &req)
	setRateHeaders(w, s.cfg.Service.RateStatus(principalOf(r).UserID))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data := make([]openAIImage, 0, len(res.Images))
	for _, img := range res.Images {
		var out openAIImage
		if in.ResponseFormat == "b64_json" {
			b, err := s.readObject(r, img.Key)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			out.B64JSON = base64.StdEncoding.EncodeToString(b)
		} else {
			j, err := s.imageJSON(r.Context(), img)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			out.URL = j.URL
		}
		data = append(data, out)
	}
	var created int64
	if len(res.Images) > 0 {
		created = res.Images[0].CreatedAt.Unix()
	}
	writeJSON(w, http.StatusOK, map[string]any{"created": created, "data": data})
}

func (s *Server) readObject(r *http.Request, key string) ([]byte, error) {
	body, _, err := s.cfg.Service.OpenObject(r.Context(), key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

// applySize maps an OpenAI size onto the model: width and height for models with
// sizes, the nearest listed aspect ratio for models with ratios.
func (s *Server) applySize(req *easel.GenerateRequest, w, h int) {
	var spec *easel.ModelSpec
	for _, m := range s.cfg.Service.Models() {
		if m.ID == req.Model || (req.Model == "" && m.ID == s.cfg.Service.DefaultModel()) {
			spec = &m
			break
		}
	}
	if spec == nil || len(spec.AspectRatios) == 0 {
		req.Width, req.Height = w, h
		return
	}
	want := float64(w) / float64(h)
	best, bestDiff := "", 0.0
	for _, ar := range spec.AspectRatios {
		aw, ah, ok := easel.ParseAspectRatio(ar)
		if !ok {
			continue
		}
		d := float64(aw)/float64(ah) - want
		if d < 0 {
			d = -d
		}
		if best == "" || d < bestDiff {
			best, bestDiff = ar, d
		}
	}
	req.AspectRatio = best
}

func isOpenAIModel(m string) bool {
	return strings.HasPrefix(m, "dall-e") || strings.HasPrefix(m, "gpt-image")
}

func parseSize(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, "x")
	if !ok {
		return 0, 0, false
	}
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	return w, h, err1 == nil && err2 == nil && w > 0 && h > 0 && w <= 8192 && h <= 8192
}
