// Package bedrocktest is a wire fake of Amazon Bedrock's InvokeModel for image models
// (and of the control plane's GetFoundationModel, for the start-up model check):
// a real HTTP server that checks each request's SigV4 signature against credentials
// it generates, validates each model family's body strictly, answers with real PNGs
// (or JPEGs) in the family's response shape, and can be told to throttle, stall,
// filter content or fail with any Bedrock exception. Tests reach it through the AWS
// SDK's standard settings (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_REGION and the
// access key pair from Credentials).
package bedrocktest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel/offline"
)

// DefaultRegion is the region the fake expects in credential scopes unless
// WithRegion says otherwise.
const DefaultRegion = "us-west-2"

// Option configures a Handler or Server.
type Option func(*Handler)

// WithRegion sets the region requests must be signed for.
func WithRegion(region string) Option { return func(h *Handler) { h.region = region } }

// WithLatency makes every call take at least d, like a real model.
func WithLatency(d time.Duration) Option { return func(h *Handler) { h.latency = d } }

// WithSmallImages makes Stability models answer at 1/8 of their real size
// (128×128 for 1:1), which keeps tests fast. Amazon and SDXL sizes come from the
// request, so tests choose small ones there.
func WithSmallImages() Option { return func(h *Handler) { h.scale = 8 } }

// WithFixedImage makes every image the given bytes instead of a rendered one (for
// benchmarks: see NoisyPNG for a realistic ~1.5 MB payload).
func WithFixedImage(img []byte) Option { return func(h *Handler) { h.fixed = img } }

// WithRenderCache keeps up to n rendered images, keyed by prompt, seed, size and
// format (default 64; 0 disables the cache).
func WithRenderCache(n int) Option { return func(h *Handler) { h.cache = newRenderCache(n) } }

// WithFault starts the handler with a fault in place.
func WithFault(f Fault) Option { return func(h *Handler) { h.fault, h.faultLeft = f, f.Times } }

// WithLogger logs each call.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithClock replaces the clock that request dates are checked against.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// Handler serves the bedrock-runtime InvokeModel API. It is safe for concurrent use.
type Handler struct {
	accessKey, secret, region string
	latency                   time.Duration
	scale                     int
	fixed                     []byte
	fixedOnce                 sync.Once
	fixedB64                  string
	cache                     *renderCache
	log                       *slog.Logger
	now                       func() time.Time
	render                    func(prompt, negative string, seed uint64, w, h int, format string) ([]byte, error)

	mu          sync.Mutex
	fault       Fault
	faultLeft   int
	calls       map[string]int
	inFlight    map[string]int
	maxInFlight map[string]int
	last        map[string][]byte
	lifecycles  map[string]*Lifecycle // control plane: nil entry = model unknown
	lookups     map[string]int
}

// NewHandler returns a handler that accepts requests signed with the given key pair.
// Use it to serve the fake outside tests (an end-to-end script's small main).
func NewHandler(accessKey, secret string, opts ...Option) *Handler {
	h := &Handler{
		accessKey:   accessKey,
		secret:      secret,
		region:      DefaultRegion,
		scale:       1,
		cache:       newRenderCache(64),
		log:         slog.New(slog.DiscardHandler),
		now:         time.Now,
		render:      offline.Render,
		calls:       map[string]int{},
		inFlight:    map[string]int{},
		maxInFlight: map[string]int{},
		last:        map[string][]byte{},
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Server is the fake on a loopback port, for tests.
type Server struct {
	*Handler
	srv *httptest.Server
}

// NewServer starts the fake on a loopback port with freshly generated credentials;
// it is closed when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	key, secret := randomHex(10), randomHex(20)
	s := &Server{Handler: NewHandler("FAKE"+strings.ToUpper(key), secret, opts...)}
	s.srv = httptest.NewServer(s.Handler)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL_BEDROCK_RUNTIME).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server early (it is also closed by t.Cleanup).
func (s *Server) Close() { s.srv.Close() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Credentials returns the access key pair requests must be signed with.
func (h *Handler) Credentials() (accessKey, secret string) { return h.accessKey, h.secret }

// Region returns the region requests must be signed for.
func (h *Handler) Region() string { return h.region }

// Calls returns how many InvokeModel calls for modelID (as sent: a profile id is
// counted apart from its base id) carried a valid signature, whatever their outcome:
// an upper bound on what Bedrock would have billed.
func (h *Handler) Calls(modelID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[modelID]
}

// CallCounts returns the calls counted by Calls, for every model id.
func (h *Handler) CallCounts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.calls)
}

// MaxInFlight returns the largest number of calls for modelID that were in progress
// at once.
func (h *Handler) MaxInFlight(modelID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxInFlight[modelID]
}

// LastRequest returns the body of the last call for modelID.
func (h *Handler) LastRequest(modelID string) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last[modelID]
}

// SetFault replaces the current fault (the zero Fault clears it).
func (h *Handler) SetFault(f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fault, h.faultLeft = f, f.Times
}

// ServeHTTP answers POST /model/{modelId}/invoke (bedrock-runtime) and GET
// /foundation-models/{modelId} (the control plane's GetFoundationModel).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/foundation-models/"); ok && r.Method == http.MethodGet {
		h.serveFoundationModel(w, r, id)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/model/")
	if ok {
		id, ok = strings.CutSuffix(id, "/invoke")
	}
	if !ok || r.Method != http.MethodPost {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "This fake serves only POST /model/{modelId}/invoke and GET /foundation-models/{modelId}.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to 25000000")
		return
	}
	if bad := h.verifySigV4(r, body); bad != nil {
		writeError(w, http.StatusForbidden, bad.Exception, bad.Message)
		return
	}
	h.begin(id, body)
	defer h.end(id)
	h.log.Info("bedrocktest invoke", "model", id, "bytes", len(body))
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusBadRequest, "ValidationException", "Content-Type must be application/json.")
		return
	}
	model, ok := fakeModels()[baseID(id)]
	if !ok {
		writeError(w, http.StatusBadRequest, "ValidationException", "The provided model identifier is invalid.")
		return
	}
	f := h.faultFor(id, promptOf(body))
	if !wait(r.Context(), max(h.latency, f.Delay)) {
		return // the client gave up
	}
	if f.Exception != "" {
		status := f.Status
		if status == 0 {
			status = exceptionStatus(f.Exception)
		}
		msg := f.Message
		if msg == "" {
			msg = "Injected " + f.Exception + " from the Bedrock fake."
		}
		writeError(w, status, f.Exception, msg)
		return
	}
	var (
		j   *job
		bad invalid
	)
	switch {
	case model.op != "":
		j, bad = parseEdit(model.op, body)
	case model.sd35 && modeOf(body) == "image-to-image":
		j, bad = parseEdit("image-to-image", body)
	case model.family == stability:
		j, bad = parseStability(model, body)
	case model.family == amazon:
		j, bad = parseAmazon(model, body)
	default:
		j, bad = parseSDXL(body)
	}
	if bad != "" {
		writeError(w, http.StatusBadRequest, "ValidationException", string(bad))
		return
	}
	if f.FilterPrompt || (f.FilterPromptInBody && model.family != stability) {
		writeError(w, http.StatusBadRequest, "ValidationException", "This request has been blocked by our content filters. Please adjust your text prompt to submit a new request.")
		return
	}
	answer, status, err := h.answer(model, j, f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerException", "The fake could not render: "+err.Error())
		return
	}
	if status != http.StatusOK {
		writeError(w, status, "ValidationException", string(answer))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
	w.Header().Set("X-Amzn-Requestid", randomHex(16))
	_, _ = w.Write(answer)
}

func (h *Handler) begin(id string, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[id]++
	h.inFlight[id]++
	h.maxInFlight[id] = max(h.maxInFlight[id], h.inFlight[id])
	h.last[id] = body
}

func (h *Handler) end(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight[id]--
}

// wait sleeps for d unless the client goes away first.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// promptOf extracts the prompt of any family's body, leniently, for fault matching.
func promptOf(body []byte) string {
	var b struct {
		Prompt     string `json:"prompt"`
		TextParams struct {
			Text string `json:"text"`
		} `json:"textToImageParams"`
		TextPrompts []struct {
			Text string `json:"text"`
		} `json:"text_prompts"`
	}
	_ = json.Unmarshal(body, &b)
	s := b.Prompt + b.TextParams.Text
	for _, p := range b.TextPrompts {
		s += " " + p.Text
	}
	return s
}

// writeError answers the way Bedrock does: the exception in X-Amzn-ErrorType and
// {"message": ...} in the body.
func writeError(w http.ResponseWriter, status int, exception, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", exception+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.Header().Set("X-Amzn-Requestid", randomHex(16))
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(map[string]string{"message": message}))
}

// image renders (or fetches from the cache) one image of a job.
func (h *Handler) image(j *job, seed uint64, w, hgt int) (string, error) {
	if h.fixed != nil {
		h.fixedOnce.Do(func() { h.fixedB64 = base64.StdEncoding.EncodeToString(h.fixed) })
		return h.fixedB64, nil
	}
	k := renderKey{prompt: j.prompt, negative: j.negative, seed: seed, w: w, h: hgt, format: j.format}
	b, err := h.cache.get(k, func() ([]byte, error) {
		return h.render(j.prompt, j.negative, seed, w, hgt, j.format)
	})
	if err != nil {
		return "", fmt.Errorf("render %dx%d: %w", w, hgt, err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// answer builds the family's response body; a status other than 200 comes with a
// ValidationException message instead.
func (h *Handler) answer(m fakeModel, j *job, f Fault) ([]byte, int, error) {
	if !j.seedGiven {
		var b [4]byte
		_, _ = rand.Read(b[:])
		j.seed = uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		j.seed = j.seed%4294967294 + 1
	}
	switch m.family {
	case stability:
		size := stabilitySizes()[j.aspectRatio]
		w, hgt := size[0]/h.scale, size[1]/h.scale
		switch {
		case f.FilterPromptInBody:
			return mustJSON(map[string]any{"finish_reasons": []string{"Filter reason: prompt"}}), 200, nil
		case f.InferenceError:
			return mustJSON(map[string]any{"seeds": []uint64{j.seed}, "finish_reasons": []string{"Inference error"}}), 200, nil
		case f.FilterOutput > 0:
			return mustJSON(map[string]any{"seeds": []uint64{j.seed}, "finish_reasons": []string{"Filter reason: output image"}}), 200, nil
		case f.FilterInputImage:
			return mustJSON(map[string]any{"finish_reasons": []string{"Filter reason: input image"}}), 200, nil
		}
		var (
			img string
			err error
		)
		if j.edit != nil {
			img, err = h.editImage(j, j.seed)
		} else {
			img, err = h.image(j, j.seed, w, hgt)
		}
		if err != nil {
			return nil, 0, err
		}
		// Base64 needs no JSON escaping: write the answer without encoding/json's scan.
		b := make([]byte, 0, len(img)+80)
		b = fmt.Appendf(b, `{"seeds":[%d],"finish_reasons":[null],"images":["`, j.seed)
		b = append(b, img...)
		return append(b, `"]}`...), 200, nil
	case amazon:
		keep := j.n - min(f.FilterOutput, j.n)
		if keep == 0 {
			return []byte("The generated image has been blocked by our content filters. Please adjust your prompt and try again."), 400, nil
		}
		images := make([]string, keep)
		for i := range keep {
			img, err := h.image(j, j.seed+uint64(i), j.w, j.h)
			if err != nil {
				return nil, 0, err
			}
			images[i] = img
		}
		var errMsg any
		if keep < j.n {
			errMsg = fmt.Sprintf("%d of the %d generated images were blocked by our content filters.", j.n-keep, j.n)
		}
		return mustJSON(map[string]any{"images": images, "error": errMsg}), 200, nil
	default:
		art := map[string]any{"seed": j.seed, "finishReason": "SUCCESS", "base64": ""}
		if f.FilterOutput > 0 {
			art["finishReason"] = "CONTENT_FILTERED"
		} else {
			img, err := h.image(j, j.seed, j.w, j.h)
			if err != nil {
				return nil, 0, err
			}
			art["base64"] = img
		}
		return mustJSON(map[string]any{"result": "success", "artifacts": []any{art}}), 200, nil
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings, numbers and slices are encoded
	}
	return b
}
