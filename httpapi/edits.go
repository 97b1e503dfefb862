package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/imagecheck"
	"github.com/easelhq/easel/service"
)

// DefaultMaxEditBodyBytes bounds the body of an edit request (POST /v1/edits, POST
// /v1/images/edits): the 18,000,000 bytes of input images an edit may hold
// (easel.MaxEditInputBytes), in base64 (4/3), with room for the fields.
const DefaultMaxEditBodyBytes = 24_500_000

// DefaultEditBodyTimeout bounds the arrival of an edit's body once the caller is
// admitted and holds an edit slot (2 min: 24.5 MB at 200 KB/s).
const DefaultEditBodyTimeout = 2 * time.Minute

// maxFormField bounds one text field of a multipart edit request.
const maxFormField = 64 << 10

// imageRef is an input image of a JSON edit request: one of the caller's images by
// id, or the image itself in base64.
type imageRef struct {
	ID  string `json:"id,omitempty"`
	B64 string `json:"b64,omitempty"`
}

// editBody is the body of POST /v1/edits.
type editBody struct {
	easel.EditRequest
	Image         *imageRef `json:"image"`
	Mask          *imageRef `json:"mask"`
	StyleImage    *imageRef `json:"style_image"`
	Webhook       string    `json:"webhook,omitempty"`
	WebhookEvents []string  `json:"webhook_events,omitempty"`
}

// startEdit admits an edit request, waits for an edit slot (so that at most
// MaxConcurrentEdits bodies are read and held at once) and bounds the body's size and
// arrival time. The caller releases what it returns.
func (s *Server) startEdit(w http.ResponseWriter, r *http.Request, async bool) (*service.Admission, *service.EditSlot, bool) {
	adm, ok := s.admit(w, r, async)
	if !ok {
		return nil, nil, false
	}
	if r.ContentLength > s.cfg.MaxEditBodyBytes {
		adm.Refund()
		adm.Release()
		w.Header().Set("Connection", "close")
		s.writeError(w, r, tooLarge(s.cfg.MaxEditBodyBytes))
		return nil, nil, false
	}
	slot, err := s.cfg.Service.AcquireEdit(r.Context())
	if err != nil {
		adm.Refund()
		adm.Release()
		s.writeError(w, r, err)
		return nil, nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxEditBodyBytes)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.EditBodyTimeout))
	return adm, slot, true
}

// bodyDone lifts the body's read deadline once it was read whole.
func bodyDone(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
}

// createEdit serves POST /v1/edits: JSON or multipart/form-data. It answers like POST
// /v1/images: 201 with the images, or 202 with the job (Prefer: respond-async, or a
// job that has not ended within Prefer: wait).
func (s *Server) createEdit(w http.ResponseWriter, r *http.Request) {
	pref, err := parsePrefer(r.Header)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	adm, slot, ok := s.startEdit(w, r, pref.async)
	if !ok {
		return
	}
	defer adm.Release()
	defer slot.Release()
	in, opt, err := s.readEdit(r)
	if err != nil {
		adm.Refund()
		s.writeBodyError(w, r, err)
		return
	}
	bodyDone(w)
	in.Slot = slot
	p := principalOf(r)
	sub, err := s.cfg.Service.SubmitEdit(r.Context(), adm, in, opt, pref.async)
	setRateHeaders(w, s.cfg.Service.RateStatus(p.UserID))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerSubmission(w, r, sub, pref)
}

// writeBodyError answers an error met while reading a body; a body cut off by its
// deadline closes the connection.
func (s *Server) writeBodyError(w http.ResponseWriter, r *http.Request, err error) {
	err = bodyError(err, s.cfg.MaxEditBodyBytes)
	if easel.IsCode(err, easel.ERequestTimeout) || easel.IsCode(err, easel.EPayloadTooLarge) {
		w.Header().Set("Connection", "close")
	}
	s.writeError(w, r, err)
}

// bodyError turns the body reader's errors into the API's.
func bodyError(err error, limit int64) error {
	var e *easel.Error
	if errors.As(err, &e) {
		return err
	}
	return decodeError(err, limit)
}

// answerSubmission answers a submitted job's request as POST /v1/images does.
func (s *Server) answerSubmission(w http.ResponseWriter, r *http.Request, sub *service.Submission, pref preference) {
	if sub.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if sub.Legacy != nil {
		s.writeImages(w, r, sub.Legacy, "")
		return
	}
	wait := s.cfg.Service.SyncWait()
	switch {
	case pref.wait > 0:
		wait = pref.wait
	case pref.async:
		wait = 0
	}
	j, imgs := sub.Job, []*easel.Image(nil)
	if wait > 0 || j.Status.Terminal() {
		var err error
		j, imgs, err = s.cfg.Service.Wait(r.Context(), principalOf(r), sub, wait)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if !j.Status.Terminal() {
		if pref.async {
			w.Header().Set("Preference-Applied", "respond-async")
		}
		s.writeJob(w, r, http.StatusAccepted, j)
		return
	}
	res, err := service.ResultOf(j, imgs, sub.Replayed)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeImages(w, r, res, j.ID)
}

// readEdit reads the body of POST /v1/edits.
func (s *Server) readEdit(r *http.Request) (*service.EditInput, service.JobOptions, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err == nil && mt == "application/json":
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, service.JobOptions{}, err
		}
		return decodeEditJSON(data)
	case err == nil && mt == "multipart/form-data" && params["boundary"] != "":
		form, err := readForm(r, params["boundary"], []string{"image", "mask", "style_image"})
		if err != nil {
			return nil, service.JobOptions{}, err
		}
		return form.editInput()
	}
	return nil, service.JobOptions{}, easel.Errorf(easel.EUnsupportedMedia, "Send an edit as application/json or multipart/form-data.")
}

// DecodeEditJSON decodes a JSON edit request strictly (what POST /v1/edits reads).
func decodeEditJSON(data []byte) (*service.EditInput, service.JobOptions, error) {
	var body editBody
	if err := decodeStrict(data, &body); err != nil {
		return nil, service.JobOptions{}, err
	}
	in := &service.EditInput{Request: body.EditRequest}
	if err := serverSet(&in.Request); err != nil {
		return nil, service.JobOptions{}, err
	}
	for _, ref := range []struct {
		name string
		ref  *imageRef
		id   *string
		data *[]byte
	}{
		{"image", body.Image, &in.ImageID, &in.Request.Image},
		{"mask", body.Mask, &in.MaskID, &in.Request.Mask},
		{"style_image", body.StyleImage, &in.StyleImageID, &in.Request.StyleImage},
	} {
		switch {
		case ref.ref == nil:
		case ref.ref.ID != "" && ref.ref.B64 != "":
			return nil, service.JobOptions{}, easel.ParamErrorf(ref.name, "%s takes an id or b64, not both.", ref.name)
		case ref.ref.ID != "":
			*ref.id = ref.ref.ID
		case ref.ref.B64 != "":
			b, err := decodeBase64(ref.ref.B64)
			if err != nil {
				return nil, service.JobOptions{}, easel.ParamErrorf(ref.name, "%s.b64 is not valid base64.", ref.name)
			}
			*ref.data = b
		default:
			return nil, service.JobOptions{}, easel.ParamErrorf(ref.name, `%s must be {"id": "..."} or {"b64": "..."}.`, ref.name)
		}
	}
	if in.ImageID == "" && len(in.Request.Image) == 0 {
		return nil, service.JobOptions{}, easel.ParamErrorf("image", `image is required: {"id": "..."} or {"b64": "..."}.`)
	}
	return in, service.JobOptions{Webhook: body.Webhook, WebhookEvents: body.WebhookEvents}, nil
}

// decodeBase64 decodes standard base64 (padded or not), or a data: URL's payload.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasPrefix(s, "data:") {
		if _, rest, ok := strings.Cut(s, ";base64,"); ok {
			s = rest
		}
	}
	s = strings.TrimRight(s, "=")
	return base64.RawStdEncoding.DecodeString(s)
}

// serverSet refuses the fields of an edit request that the server sets itself.
func serverSet(req *easel.EditRequest) error {
	for name, v := range map[string]string{"source_image_id": req.SourceImageID, "style_image_id": req.StyleImageID, "mask_image_id": req.MaskImageID} {
		if v != "" {
			return easel.ParamErrorf(name, "%s is set by the server; give the input as image, style_image or mask.", name)
		}
	}
	return nil
}

// form is a multipart body read whole, within limits: text fields and files.
type form struct {
	fields map[string]string
	files  map[string][]byte
	order  []string // field names in order, for repeated files (image[])
	count  map[string]int
}

// readForm reads a multipart/form-data body: files of the named parts (image[] is
// image) up to easel.MaxEditImageBytes each, text fields up to maxFormField.
func readForm(r *http.Request, boundary string, fileParts []string) (*form, error) {
	mr := multipart.NewReader(r.Body, boundary)
	f := &form{fields: map[string]string{}, files: map[string][]byte{}, count: map[string]int{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, easel.WrapError(easel.EInvalid, err, "The multipart body is malformed.")
		}
		name := strings.TrimSuffix(part.FormName(), "[]")
		if name == "" {
			part.Close()
			continue
		}
		f.count[name]++
		if f.count[name] > 1 {
			part.Close()
			return nil, easel.ParamErrorf(name, "%s is given more than once; Easel edits one image at a time.", name)
		}
		isFile := part.FileName() != "" && slices.Contains(fileParts, name)
		limit := int64(maxFormField)
		if isFile {
			limit = easel.MaxEditImageBytes
		}
		data, err := io.ReadAll(io.LimitReader(part, limit+1))
		part.Close()
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > limit {
			if isFile {
				return nil, &easel.Error{Code: easel.EPayloadTooLarge, Param: name,
					Message: fmt.Sprintf("%s is larger than %d bytes.", name, easel.MaxEditImageBytes)}
			}
			return nil, easel.ParamErrorf(name, "%s is longer than %d bytes.", name, maxFormField)
		}
		if isFile {
			f.files[name] = data
		} else {
			f.fields[name] = string(data)
		}
		f.order = append(f.order, name)
	}
}

// numericFields are the fields of a multipart edit that are numbers in JSON.
var numericFields = append([]string{"seed", "n"}, easel.EditNumberFields()...)

// editInput turns a multipart POST /v1/edits into an edit: text fields are the JSON
// fields (numbers parsed), file parts image, mask and style_image the inputs; a text
// part image, mask or style_image is the id of one of the caller's images.
func (f *form) editInput() (*service.EditInput, service.JobOptions, error) {
	obj := map[string]any{}
	in := &service.EditInput{}
	for name, v := range f.fields {
		switch {
		case name == "image":
			in.ImageID = v
		case name == "mask":
			in.MaskID = v
		case name == "style_image":
			in.StyleImageID = v
		case name == "webhook_events":
			obj[name] = strings.Split(v, ",")
		case slices.Contains(numericFields, name):
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return nil, service.JobOptions{}, easel.ParamErrorf(name, "%s must be a number.", name)
			}
			if name == "seed" {
				u, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return nil, service.JobOptions{}, easel.ParamErrorf(name, "seed must be a whole number from 0.")
				}
				obj[name] = u
				continue
			}
			obj[name] = n
		default:
			obj[name] = v
		}
	}
	data, _ := json.Marshal(obj)
	var body editBody
	if err := decodeStrict(data, &body); err != nil {
		return nil, service.JobOptions{}, err
	}
	in.Request = body.EditRequest
	if err := serverSet(&in.Request); err != nil {
		return nil, service.JobOptions{}, err
	}
	in.Request.Image, in.Request.Mask, in.Request.StyleImage = f.files["image"], f.files["mask"], f.files["style_image"]
	if in.ImageID == "" && len(in.Request.Image) == 0 {
		return nil, service.JobOptions{}, easel.ParamErrorf("image", "image is required: a file part, or the id of one of your images.")
	}
	return in, service.JobOptions{Webhook: body.Webhook, WebhookEvents: body.WebhookEvents}, nil
}

// openAIEditFields are the text fields of OpenAI's POST /v1/images/edits that Easel
// accepts; those past "response_format" are accepted and unused.
var openAIEditFields = []string{"prompt", "model", "n", "size", "response_format", "output_format",
	"quality", "background", "input_fidelity", "output_compression", "partial_images", "stream", "user", "moderation",
	"safety_identifier", "complexity", "frame_count", "frame_duration_ms", "markup", "svg"}

// openAIEdits serves OpenAI's POST /v1/images/edits (multipart: image or image[],
// mask, prompt, n, size, response_format, model, ...). A mask (transparent where the
// image should change, as OpenAI's) or an image with transparent pixels makes an
// inpaint; otherwise an image-to-image edit. The result's size follows the image.
func (s *Server) openAIEdits(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		s.writeError(w, r, easel.Errorf(easel.EUnsupportedMedia, "Send an image edit as multipart/form-data."))
		return
	}
	adm, slot, ok := s.startEdit(w, r, false)
	if !ok {
		return
	}
	defer adm.Release()
	defer slot.Release()
	f, err := readForm(r, params["boundary"], []string{"image", "mask"})
	if err == nil {
		bodyDone(w)
	}
	var in *service.EditInput
	if err == nil {
		in, err = fromOpenAIEdit(f)
	}
	if err != nil {
		adm.Refund()
		s.writeBodyError(w, r, err)
		return
	}
	in.Slot = slot
	if m := f.fields["model"]; m != "" && !isOpenAIModel(m) {
		in.Request.Model = m
	}
	sub, err := s.cfg.Service.SubmitEdit(r.Context(), adm, in, service.JobOptions{}, false)
	setRateHeaders(w, s.cfg.Service.RateStatus(principalOf(r).UserID))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	j, imgs, err := s.cfg.Service.Wait(r.Context(), principalOf(r), sub, s.cfg.Service.SyncWait())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := service.ResultOf(j, imgs, sub.Replayed)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if sub.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	format := f.fields["response_format"]
	if format == "" {
		format = defaultResponseFormat(f.fields["model"])
	}
	if format == "b64_json" {
		s.openAIBase64(w, r, res.Images)
		return
	}
	s.openAIURLs(w, r, res.Images)
}

// fromOpenAIEdit maps an OpenAI edit onto Easel's: inpaint with a mask or a
// transparent image, image-to-image otherwise.
func fromOpenAIEdit(f *form) (*service.EditInput, error) {
	for name := range f.fields {
		if !slices.Contains(openAIEditFields, name) {
			return nil, easel.ParamErrorf(name, "Unknown field %q.", name)
		}
	}
	img := f.files["image"]
	if len(img) == 0 {
		return nil, easel.ParamErrorf("image", "image is required: a PNG, JPEG or WebP file part (image or image[]).")
	}
	if rf := f.fields["response_format"]; rf != "" && rf != "url" && rf != "b64_json" {
		return nil, easel.ParamErrorf("response_format", "response_format must be url or b64_json.")
	}
	if st := f.fields["stream"]; st == "true" {
		return nil, easel.ParamErrorf("stream", "Easel's image edits do not stream; leave stream false.")
	}
	if sz := f.fields["size"]; sz != "" && sz != "auto" {
		if _, _, ok := parseSize(sz); !ok {
			return nil, easel.ParamErrorf("size", "size must look like 1024x1024 (the result's size follows the image).")
		}
	}
	in := &service.EditInput{}
	req := &in.Request
	req.Prompt = f.fields["prompt"]
	req.Image = img
	if v := f.fields["n"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, easel.ParamErrorf("n", "n must be a whole number.")
		}
		req.N = n
		if n == 0 {
			req.N = -1 // refused by the service, as n: 0 is for generations
		}
	}
	if of := f.fields["output_format"]; of != "" {
		req.OutputFormat = of
	}
	switch mask := f.files["mask"]; {
	case len(mask) > 0:
		m, err := openAIMask(mask)
		if err != nil {
			return nil, err
		}
		req.Operation, req.Mask = easel.OpInpaint, m
	default:
		clear, err := imagecheck.Transparent(img, easel.EditMaxPixels)
		if err != nil && !errors.Is(err, imagecheck.ErrTooLarge) && !errors.Is(err, easel.ErrUnknownFormat) {
			return nil, &easel.Error{Code: easel.EInvalid, Param: "image", Err: err, Message: "image could not be decoded."}
		}
		req.Operation = easel.OpImageToImage
		if clear {
			req.Operation = easel.OpInpaint
		}
	}
	return in, nil
}

// openAIMask turns OpenAI's mask (fully transparent where the image should change)
// into Easel's (white where it should change, black elsewhere), as a grey PNG.
func openAIMask(data []byte) ([]byte, error) {
	m, _, err := imagecheck.Decode(data, easel.EditMaxPixels)
	switch {
	case errors.Is(err, easel.ErrUnknownFormat):
		return nil, &easel.Error{Code: easel.EUnsupportedMedia, Param: "mask", Message: "mask is not a PNG, JPEG or WebP image."}
	case errors.Is(err, imagecheck.ErrTooLarge):
		return nil, easel.ParamErrorf("mask", "mask has more than %d pixels.", easel.EditMaxPixels)
	case err != nil:
		return nil, &easel.Error{Code: easel.EInvalid, Param: "mask", Err: err, Message: "mask could not be decoded."}
	}
	b := m.Bounds()
	gray := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := gray.Pix[(y-b.Min.Y)*gray.Stride:]
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := m.At(x, y).RGBA(); a == 0 {
				row[x-b.Min.X] = 255
			}
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, gray); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
