package httpapi

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/easelhq/easel"
)

// openAIRequest is the body of OpenAI's POST /v1/images/generations, every field the
// official SDKs send. Fields Easel has no use for (background, moderation, user, ...)
// are accepted and ignored, so existing clients work unchanged; unknown fields are
// still refused, as OpenAI refuses them.
type openAIRequest struct {
	Prompt         string `json:"prompt"`
	Model          string `json:"model"`
	N              int    `json:"n"`
	Size           string `json:"size"`
	Quality        string `json:"quality"`
	ResponseFormat string `json:"response_format"`
	OutputFormat   string `json:"output_format"`
	// Stream answers with server-sent events: one image_generation.completed per image.
	Stream bool `json:"stream"`

	// Accepted, checked for range where OpenAI does, and otherwise unused.
	OutputCompression *int            `json:"output_compression"`
	PartialImages     *int            `json:"partial_images"`
	Style             string          `json:"style"`
	Background        string          `json:"background"`
	Moderation        string          `json:"moderation"`
	User              string          `json:"user"`
	SafetyIdentifier  string          `json:"safety_identifier"`
	Complexity        string          `json:"complexity"`
	FrameCount        *int            `json:"frame_count"`
	FrameDurationMs   *int            `json:"frame_duration_ms"`
	SVG               json.RawMessage `json:"svg"`
}

// openAIImage is one entry of the answer's data.
type openAIImage struct {
	URL     string `json:"url,omitempty"`
	B64JSON string `json:"b64_json,omitempty"`
}

// openAIGenerations serves the OpenAI Images API shape on Easel's models. OpenAI's own
// model names ("dall-e-3", "gpt-image-1", ...) select the default model; gpt-image
// models answer b64_json by default, as OpenAI's do, the others url.
func (s *Server) openAIGenerations(w http.ResponseWriter, r *http.Request) {
	var in openAIRequest
	adm, done, ok := s.startGenerate(w, r, &in, false)
	if !ok {
		return
	}
	defer done()
	req, err := s.fromOpenAI(&in)
	if err != nil {
		adm.Refund() // bad input costs no rate
		s.writeError(w, r, err)
		return
	}
	format := in.ResponseFormat
	if format == "" {
		format = defaultResponseFormat(in.Model)
	}
	res, err := s.cfg.Service.GenerateAdmitted(r.Context(), adm, req)
	setRateHeaders(w, s.cfg.Service.RateStatus(principalOf(r).UserID))
	if err != nil {
		s.writeError(w, r, openAIParam(err, &in))
		return
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	switch {
	case in.Stream:
		s.openAIStream(w, r, res.Images)
	case format == "b64_json":
		s.openAIBase64(w, r, res.Images)
	default:
		s.openAIURLs(w, r, res.Images)
	}
}

// fromOpenAI checks an OpenAI request and turns it into Easel's.
func (s *Server) fromOpenAI(in *openAIRequest) (*easel.GenerateRequest, error) {
	req := &easel.GenerateRequest{Prompt: in.Prompt, N: in.N, OutputFormat: in.OutputFormat}
	if in.Model != "" && !isOpenAIModel(in.Model) {
		req.Model = in.Model
	}
	switch {
	case in.ResponseFormat != "" && in.ResponseFormat != "url" && in.ResponseFormat != "b64_json":
		return nil, easel.ParamErrorf("response_format", "response_format must be url or b64_json.")
	case in.OutputCompression != nil && (*in.OutputCompression < 0 || *in.OutputCompression > 100):
		return nil, easel.ParamErrorf("output_compression", "output_compression must be between 0 and 100.")
	case in.PartialImages != nil && (*in.PartialImages < 0 || *in.PartialImages > 3):
		return nil, easel.ParamErrorf("partial_images", "partial_images must be between 0 and 3.")
	}
	spec := s.specOf(req.Model)
	if in.Size != "" && in.Size != "auto" {
		w, h, ok := parseSize(in.Size)
		if !ok {
			return nil, easel.ParamErrorf("size", "size must look like 1024x1024.")
		}
		applySize(spec, req, w, h)
	}
	if spec != nil {
		req.Quality = mapQuality(spec.Qualities, in.Quality)
	}
	return req, nil
}

// openAIParam renames the fields of Easel's errors to the OpenAI request's: width,
// height and aspect_ratio come from size.
func openAIParam(err error, in *openAIRequest) error {
	var e *easel.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Param {
	case "width", "height", "aspect_ratio":
		c := *e
		c.Param = "size"
		c.Message = "size " + strconv.Quote(in.Size) + ": " + e.Message
		return &c
	}
	return err
}

// defaultResponseFormat is OpenAI's default for a model: GPT image models answer with
// the image itself, DALL-E (and every model of Easel's own) with a URL.
func defaultResponseFormat(model string) string {
	if strings.HasPrefix(model, "gpt-image") || strings.HasPrefix(model, "chatgpt-image") {
		return "b64_json"
	}
	return "url"
}

// openAIAnswer is the answer's body without data: when the images were made, and their
// format and size (OpenAI's GPT image models report these).
func openAIAnswer(imgs []*easel.Image) map[string]any {
	body := map[string]any{"created": int64(0)}
	if len(imgs) > 0 {
		body["created"] = imgs[0].CreatedAt.Unix()
		body["output_format"] = outputFormat(imgs[0].ContentType)
		body["size"] = strconv.Itoa(imgs[0].Width) + "x" + strconv.Itoa(imgs[0].Height)
		body["background"] = "opaque"
	}
	return body
}

func outputFormat(contentType string) string {
	return strings.TrimPrefix(contentType, "image/")
}

// openAIBase64 answers with the images' bytes in base64, streamed from the blob store
// into the response: no image is held in memory whole, in either form.
func (s *Server) openAIBase64(w http.ResponseWriter, r *http.Request, imgs []*easel.Image) {
	// Open every object before the status is sent, so that a missing one is still a
	// clean error answer.
	bodies := make([]io.ReadCloser, 0, len(imgs))
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	for _, img := range imgs {
		b, _, err := s.cfg.Service.OpenObject(r.Context(), img.Key)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		bodies = append(bodies, b)
	}
	head, err := json.Marshal(openAIAnswer(imgs))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	// {"created":...,"data":[{"b64_json":"..."},...]}: head without its closing brace.
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"data":[`)
	for i, body := range bodies {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(`{"b64_json":"`)
		if err := copyBase64(bw, body); err != nil {
			s.abort(r, err)
		}
		bw.WriteString(`"}`)
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		s.abort(r, err)
	}
}

// openAIStream answers stream: true with server-sent events, one
// image_generation.completed event per image, each carrying the image in base64.
// Easel makes no partial images, so partial_images sends none.
func (s *Server) openAIStream(w http.ResponseWriter, r *http.Request, imgs []*easel.Image) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, img := range imgs {
		body, _, err := s.cfg.Service.OpenObject(r.Context(), img.Key)
		if err != nil {
			s.abort(r, err)
		}
		bw.WriteString("event: image_generation.completed\ndata: ")
		fmt := outputFormat(img.ContentType)
		size := strconv.Itoa(img.Width) + "x" + strconv.Itoa(img.Height)
		bw.WriteString(`{"type":"image_generation.completed","created_at":` + strconv.FormatInt(img.CreatedAt.Unix(), 10) +
			`,"output_format":"` + fmt + `","size":"` + size + `","quality":"auto","background":"opaque",` +
			`"usage":{"input_tokens":0,"output_tokens":0,"total_tokens":0,"input_tokens_details":{"image_tokens":0,"text_tokens":0}},"b64_json":"`)
		err = copyBase64(bw, body)
		body.Close()
		if err != nil {
			s.abort(r, err)
		}
		bw.WriteString("\"}\n\n")
		if err := bw.Flush(); err != nil {
			s.abort(r, err)
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// copyBase64 writes src to w in standard base64.
func copyBase64(w io.Writer, src io.Reader) error {
	enc := base64.NewEncoder(base64.StdEncoding, w)
	if _, err := io.Copy(enc, src); err != nil {
		return err
	}
	return enc.Close()
}

// abort ends an answer whose status is already sent: the connection is cut, so the
// client sees a failed transfer rather than a short image.
func (s *Server) abort(r *http.Request, err error) {
	if rec := recorderOf(r); rec != nil {
		rec.err = err
	}
	s.cfg.Logger.Warn("answer cut off", "route", r.Pattern, "err", err)
	panic(http.ErrAbortHandler)
}

// specOf returns the spec of the model id ("" for the default), or nil when there is no
// such model (Generate then says so).
func (s *Server) specOf(id string) *easel.ModelSpec {
	if id == "" {
		id = s.cfg.Service.DefaultModel()
	}
	for _, m := range s.cfg.Service.Models() {
		if m.ID == id {
			return &m
		}
	}
	return nil
}

// applySize maps an OpenAI size onto the model: width and height for models with
// sizes, the nearest listed aspect ratio for models with ratios.
func applySize(spec *easel.ModelSpec, req *easel.GenerateRequest, w, h int) {
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

// mapQuality maps OpenAI's quality onto the model's qualities (Nova Canvas: standard,
// premium): high, hd and above ask for the best, low, medium and standard for the
// plain one, auto for the model's default. A model without qualities ignores it.
func mapQuality(qualities []string, q string) string {
	if len(qualities) == 0 {
		return ""
	}
	var want string
	switch q {
	case "hd", "high", "xhigh", "max":
		want = qualities[len(qualities)-1]
	case "low", "medium", "standard":
		want = qualities[0]
	default:
		return ""
	}
	return want
}

func isOpenAIModel(m string) bool {
	return strings.HasPrefix(m, "dall-e") || strings.HasPrefix(m, "gpt-image") || strings.HasPrefix(m, "chatgpt-image")
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

// openAIURLs answers OpenAI's url format: each image by its URL (signed when images are
// private).
func (s *Server) openAIURLs(w http.ResponseWriter, r *http.Request, images []*easel.Image) {
	data := make([]openAIImage, 0, len(images))
	for _, img := range images {
		v, err := s.imageView(r, img)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		data = append(data, openAIImage{URL: v.URL})
	}
	body := openAIAnswer(images)
	body["data"] = data
	writeJSON(w, http.StatusOK, body)
}
