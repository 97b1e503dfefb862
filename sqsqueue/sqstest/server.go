// Package sqstest is a wire fake of Amazon SQS for tests: a real HTTP server speaking
// the AWS JSON 1.0 protocol that the AWS SDK for Go v2 uses (X-Amz-Target
// AmazonSQS.<Operation>), which checks every request's SigV4 signature, refuses request
// shapes SQS would not take (unknown members, wrong types, missing parameters, values
// out of range) and keeps standard queues in memory with SQS's semantics: visibility
// timeouts, long polling, per-message and per-queue delays, receive counts, a new
// receipt handle per receive, MessageGroupId on standard (fair) queues, and redrive to
// a dead-letter queue after the RedrivePolicy's maxReceiveCount, answering errors in
// SQS's shapes (__type plus the x-amzn-query-error code).
//
// It is a fake, not an emulator: FIFO queues, message attributes, batches, tags,
// permissions and message move tasks are refused with a clear error. It exists because
// the SQS emulators available here (goaws v0.4.5, sqslite 2.1.1) speak only the older
// query protocol, which the current SDK no longer sends.
//
// Tests start it with NewServer and reach it through the SDK's standard settings
// (AWS_ENDPOINT_URL_SQS, AWS_REGION and the key pair from Credentials); the fakeserver
// command (bedrock/bedrocktest/fakeserver) serves it to several processes at once.
package sqstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel/internal/sigv4"
)

// DefaultRegion is the region requests must be signed for unless WithRegion says
// otherwise.
const DefaultRegion = "us-east-1"

// Account is the fake's AWS account id, in queue URLs and ARNs.
const Account = "000000000000"

// maxBody bounds a request body (SQS messages are at most 1 MiB; JSON may escape).
const maxBody = 8 << 20

// Option configures a Handler or Server.
type Option func(*Handler)

// WithRegion sets the region requests must be signed for.
func WithRegion(region string) Option { return func(h *Handler) { h.region = region } }

// WithLogger logs each call.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithClock replaces the clock that request dates are checked against (message times
// always follow the real clock, since long polls and timeouts wait on real timers).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.sigNow = now } }

// WithQueue creates a queue when the handler starts (attributes as CreateQueue takes
// them, such as "RedrivePolicy"; create a dead-letter queue before its source).
func WithQueue(name string, attrs map[string]string) Option {
	return func(h *Handler) { h.initial = append(h.initial, initialQueue{name, attrs}) }
}

type initialQueue struct {
	name  string
	attrs map[string]string
}

// Fault makes the fake fail calls the way SQS does. The zero Fault is none.
type Fault struct {
	// Operation limits the fault to one operation, such as "ReceiveMessage"; "": all.
	Operation string
	// Times is how many matching calls fail before the fault clears itself; 0: every
	// matching call until SetFault is called again.
	Times int
	// Exception is the error to answer, by its short name: RequestThrottled,
	// OverLimit, QueueDoesNotExist, ReceiptHandleIsInvalid, MessageNotInflight,
	// InvalidParameterValue, AccessDenied, InternalFailure or ServiceUnavailable.
	Exception string
	// Delay holds each matching call this long first (then fails it, if Exception is
	// set, or serves it).
	Delay time.Duration
}

// Handler serves the SQS API. It is safe for concurrent use.
type Handler struct {
	verifier sigv4.Verifier
	region   string
	log      *slog.Logger
	sigNow   func() time.Time
	initial  []initialQueue

	mu      sync.Mutex
	queues  map[string]*queue // by name
	changed chan struct{}     // closed and replaced when any message becomes available
	fault   Fault
	left    int
	calls   map[string]int
}

// NewHandler returns a handler that accepts requests signed with the given key pair.
// It panics if a WithQueue option names an invalid queue.
func NewHandler(accessKey, secret string, opts ...Option) *Handler {
	h := &Handler{
		region:  DefaultRegion,
		log:     slog.New(slog.DiscardHandler),
		sigNow:  time.Now,
		queues:  map[string]*queue{},
		changed: make(chan struct{}),
		calls:   map[string]int{},
	}
	for _, o := range opts {
		o(h)
	}
	h.verifier = sigv4.Verifier{AccessKey: accessKey, Secret: secret, Region: h.region, Service: "sqs", Now: h.sigNow}
	for _, q := range h.initial {
		if err := h.CreateQueue(q.name, q.attrs); err != nil {
			panic("sqstest: " + err.Error())
		}
	}
	return h
}

// Server is the fake on a loopback port, for tests.
type Server struct {
	*Handler
	srv *httptest.Server
}

// NewServer starts the fake on a loopback port with freshly generated credentials; it
// is closed when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{Handler: NewHandler("FAKE"+strings.ToUpper(randomHex(8)), randomHex(20), opts...)}
	s.srv = httptest.NewServer(s.Handler)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL_SQS).
func (s *Server) URL() string { return s.srv.URL }

// QueueURL is the URL of the named queue, as GetQueueUrl answers it.
func (s *Server) QueueURL(name string) string { return s.srv.URL + "/" + Account + "/" + name }

// Close stops the server early (it is also closed by t.Cleanup).
func (s *Server) Close() { s.srv.Close() }

// Credentials returns the access key pair requests must be signed with.
func (h *Handler) Credentials() (accessKey, secret string) {
	return h.verifier.AccessKey, h.verifier.Secret
}

// Region returns the region requests must be signed for.
func (h *Handler) Region() string { return h.region }

// Calls returns how many signed calls of an operation (such as "DeleteMessage") the
// fake served or refused after checking the signature.
func (h *Handler) Calls(operation string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[operation]
}

// SetFault replaces the current fault (the zero Fault clears it).
func (h *Handler) SetFault(f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fault, h.left = f, f.Times
}

// operations are the X-Amz-Target operations the fake serves.
var operations = map[string]func(*Handler, *http.Request, []byte) (any, *apiError){
	"CreateQueue":             (*Handler).createQueue,
	"GetQueueUrl":             (*Handler).getQueueURL,
	"GetQueueAttributes":      (*Handler).getQueueAttributes,
	"SetQueueAttributes":      (*Handler).setQueueAttributes,
	"ListQueues":              (*Handler).listQueues,
	"DeleteQueue":             (*Handler).deleteQueue,
	"PurgeQueue":              (*Handler).purgeQueue,
	"SendMessage":             (*Handler).sendMessage,
	"ReceiveMessage":          (*Handler).receiveMessage,
	"DeleteMessage":           (*Handler).deleteMessage,
	"ChangeMessageVisibility": (*Handler).changeVisibility,
}

// refused are real SQS operations the fake does not serve.
var refused = []string{"SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch",
	"AddPermission", "RemovePermission", "TagQueue", "UntagQueue", "ListQueueTags",
	"ListDeadLetterSourceQueues", "StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks"}

// ServeHTTP answers POST / with X-Amz-Target AmazonSQS.<Operation>.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSQS.")
	if r.Method != http.MethodPost || !ok {
		writeError(w, errUnknownOperation.with("This fake serves only POST with X-Amz-Target AmazonSQS.<Operation> (got %s %q).", r.Method, target))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, errInvalidParameter.with("The request body is too large."))
		return
	}
	if bad := h.verifier.Verify(r, body); bad != nil {
		writeError(w, &apiError{status: http.StatusForbidden, typ: "com.amazon.coral.service#" + bad.Exception, query: bad.Exception, message: bad.Message})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		writeError(w, errSerialization.with("Content-Type must be application/x-amz-json-1.0 for the AWS JSON 1.0 protocol, not %q.", ct))
		return
	}
	fn, ok := operations[op]
	if !ok {
		for _, name := range refused {
			if name == op {
				writeError(w, errUnsupported.with("The SQS fake does not serve %s.", op))
				return
			}
		}
		writeError(w, errUnknownOperation.with("Unknown operation %q.", op))
		return
	}
	f := h.count(op)
	if f.Delay > 0 && !sleep(r.Context(), f.Delay) {
		return
	}
	if f.Exception != "" {
		e, ok := exceptions[f.Exception]
		if !ok {
			e = errInternal
		}
		writeError(w, e.with("Injected %s from the SQS fake.", f.Exception))
		return
	}
	out, apiErr := fn(h, r, body)
	h.log.Info("sqstest", "op", op, "error", apiErr)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	b := mustJSON(out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	_, _ = w.Write(b)
}

// count records a call and returns the fault that applies to it.
func (h *Handler) count(op string) Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[op]++
	f := h.fault
	if f == (Fault{}) || (f.Operation != "" && f.Operation != op) {
		return Fault{}
	}
	if f.Times > 0 {
		h.left--
		if h.left <= 0 {
			h.fault = Fault{}
		}
	}
	return f
}

// decode parses an operation's input strictly: a JSON object whose members are
// exactly named (case-sensitive) members of in's json tags, with the right types.
func decode(body []byte, in any) *apiError {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return errSerialization.with("The request body is not a JSON object: %v.", err)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(in).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	for name := range members {
		if !known[name] {
			return errSerialization.with("Unknown member %q in the request (members are case-sensitive).", name)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errSerialization.with("Member %q: expected %s, got JSON %s.", te.Field, te.Type, te.Value)
		}
		return errSerialization.with("Cannot parse the request: %v.", err)
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRequestID() string {
	s := randomHex(16)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
