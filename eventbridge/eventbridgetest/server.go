// Package eventbridgetest is a wire fake of Amazon EventBridge's PutEvents for tests: a
// real HTTP server speaking the AWS JSON 1.1 protocol (X-Amz-Target AWSEvents.PutEvents)
// that checks every request's SigV4 signature, refuses request shapes EventBridge would
// not take (unknown members, wrong types, more than 10 entries, entries over 256 KB in
// total), answers per-entry failures the way EventBridge does (InvalidArgument,
// MalformedDetail, an unknown bus) with FailedEntryCount, records the events it accepted
// for tests to read, and can be told to fail whole requests or single entries.
//
// It is a fake: it serves PutEvents only, and matches no rules. Tests start it with
// NewServer and reach it through the SDK's standard settings
// (AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_REGION and the key pair from Credentials); the
// fakeserver command (bedrock/bedrocktest/fakeserver) serves it as a process.
package eventbridgetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel/internal/awsjson"
	"github.com/easelhq/easel/internal/sigv4"
)

// DefaultRegion is the region requests must be signed for unless WithRegion says
// otherwise.
const DefaultRegion = "us-east-1"

// Account is the fake's AWS account id, in bus ARNs.
const Account = "000000000000"

// EventBridge's PutEvents limits.
const (
	// MaxEntries is the most entries one PutEvents call takes.
	MaxEntries = 10
	// MaxBytes is the most the entries of one call may add up to, counted as
	// EventBridge counts them (EntrySize).
	MaxBytes = 256 * 1024
)

// maxBody bounds a request body (entries are at most 256 KB; JSON may escape).
const maxBody = 4 << 20

// Option configures a Handler or Server.
type Option func(*Handler)

// WithRegion sets the region requests must be signed for.
func WithRegion(region string) Option { return func(h *Handler) { h.region = region } }

// WithBus adds an event bus besides "default", which always exists.
func WithBus(name string) Option { return func(h *Handler) { h.buses[name] = true } }

// WithClock replaces the clock that request dates are checked against.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// Fault makes the fake fail PutEvents calls. The zero Fault is none.
type Fault struct {
	// Times is how many calls the fault affects before it clears itself; 0: every call
	// until SetFault is called again.
	Times int
	// Exception fails the whole call with this exception: ThrottlingException (400),
	// InternalException (500), AccessDeniedException (400), ResourceNotFoundException
	// (400) or any other name (400).
	Exception string
	// FailEntries fails the first FailEntries entries of each affected call with
	// EntryErrorCode (default InternalFailure, which is retryable) and accepts the rest.
	FailEntries int
	// EntryErrorCode is the ErrorCode of failed entries, such as ThrottlingException,
	// InternalFailure (both retryable) or AccessDeniedException.
	EntryErrorCode string
}

// Event is one event the fake accepted.
type Event struct {
	EventID    string
	Bus        string // the bus name
	Source     string
	DetailType string
	Detail     string
	Time       time.Time // zero when the entry had none
	Resources  []string
}

// Handler serves PutEvents. It is safe for concurrent use.
type Handler struct {
	verifier sigv4.Verifier
	region   string
	now      func() time.Time

	mu     sync.Mutex
	buses  map[string]bool
	events []Event
	calls  int
	fault  Fault
	left   int
}

// NewHandler returns a handler that accepts requests signed with the given key pair.
func NewHandler(accessKey, secret string, opts ...Option) *Handler {
	h := &Handler{region: DefaultRegion, now: time.Now, buses: map[string]bool{"default": true}}
	for _, o := range opts {
		o(h)
	}
	h.verifier = sigv4.Verifier{AccessKey: accessKey, Secret: secret, Region: h.region, Service: "events", Now: h.now}
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

// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL_EVENTBRIDGE).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server early (it is also closed by t.Cleanup).
func (s *Server) Close() { s.srv.Close() }

// Credentials returns the access key pair requests must be signed with.
func (h *Handler) Credentials() (accessKey, secret string) {
	return h.verifier.AccessKey, h.verifier.Secret
}

// Region returns the region requests must be signed for.
func (h *Handler) Region() string { return h.region }

// Events returns the events accepted so far, oldest first.
func (h *Handler) Events() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Event(nil), h.events...)
}

// Calls returns how many signed PutEvents calls arrived.
func (h *Handler) Calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// SetFault replaces the current fault (the zero Fault clears it).
func (h *Handler) SetFault(f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fault, h.left = f, f.Times
}

// EntrySize is an entry's size as EventBridge counts it against MaxBytes: 14 bytes for
// a Time, plus the UTF-8 bytes of Source, DetailType, Detail and each resource.
func EntrySize(hasTime bool, source, detailType, detail string, resources []string) int {
	n := len(source) + len(detailType) + len(detail)
	if hasTime {
		n += 14
	}
	for _, r := range resources {
		n += len(r)
	}
	return n
}

type entryIn struct {
	Source       *string         `json:"Source"`
	DetailType   *string         `json:"DetailType"`
	Detail       *string         `json:"Detail"`
	Resources    []string        `json:"Resources"`
	EventBusName *string         `json:"EventBusName"`
	Time         json.RawMessage `json:"Time"`
	TraceHeader  *string         `json:"TraceHeader"`
}

type putEventsIn struct {
	Entries    []json.RawMessage `json:"Entries"`
	EndpointID *string           `json:"EndpointId"`
}

type resultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// ServeHTTP answers POST / with X-Amz-Target AWSEvents.PutEvents.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSEvents.")
	if r.Method != http.MethodPost || !ok {
		writeError(w, 400, "UnknownOperationException", fmt.Sprintf("This fake serves only POST with X-Amz-Target AWSEvents.PutEvents (got %s %q).", r.Method, target))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, 413, "ValidationException", "The request body is too large.")
		return
	}
	if bad := h.verifier.Verify(r, body); bad != nil {
		writeError(w, 403, bad.Exception, bad.Message)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeError(w, 400, "SerializationException", fmt.Sprintf("Content-Type must be application/x-amz-json-1.1 for the AWS JSON 1.1 protocol, not %q.", ct))
		return
	}
	if op != "PutEvents" {
		writeError(w, 400, "UnknownOperationException", fmt.Sprintf("The EventBridge fake serves only PutEvents, not %s.", op))
		return
	}
	f := h.count()
	if f.Exception != "" {
		status := 400
		if f.Exception == "InternalException" || f.Exception == "InternalFailure" {
			status = 500
		}
		writeError(w, status, f.Exception, "Injected "+f.Exception+" from the EventBridge fake.")
		return
	}
	var in putEventsIn
	if msg := decode(body, &in); msg != "" {
		writeError(w, 400, "SerializationException", msg)
		return
	}
	if in.EndpointID != nil {
		writeError(w, 400, "ValidationException", "The EventBridge fake does not serve global endpoints (EndpointId).")
		return
	}
	if n := len(in.Entries); n < 1 || n > MaxEntries {
		writeError(w, 400, "ValidationException", fmt.Sprintf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1 (got %d).", MaxEntries, n))
		return
	}
	entries := make([]entryIn, len(in.Entries))
	total := 0
	for i, raw := range in.Entries {
		if msg := decode(raw, &entries[i]); msg != "" {
			writeError(w, 400, "SerializationException", fmt.Sprintf("Entries[%d]: %s", i, msg))
			return
		}
		e := entries[i]
		total += EntrySize(e.Time != nil, deref(e.Source), deref(e.DetailType), deref(e.Detail), e.Resources)
	}
	if total > MaxBytes {
		writeError(w, 400, "ValidationException", fmt.Sprintf("Total size of the entries in the request is over the limit (%d > %d bytes).", total, MaxBytes))
		return
	}
	out := make([]resultEntry, len(entries))
	var accepted []Event
	failed := 0
	for i, e := range entries {
		ev, code, msg := h.check(e)
		if code == "" && i < f.FailEntries {
			code, msg = f.EntryErrorCode, "Injected entry failure from the EventBridge fake."
			if code == "" {
				code = "InternalFailure"
			}
		}
		if code != "" {
			out[i] = resultEntry{ErrorCode: code, ErrorMessage: msg}
			failed++
			continue
		}
		ev.EventID = newID()
		out[i] = resultEntry{EventID: ev.EventID}
		accepted = append(accepted, ev)
	}
	h.mu.Lock()
	h.events = append(h.events, accepted...)
	h.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"FailedEntryCount": failed, "Entries": out})
	awsjson.Write(w, http.StatusOK, b)
}

// check validates one entry as EventBridge does, returning the event or the entry's
// error code and message.
func (h *Handler) check(e entryIn) (Event, string, string) {
	ev := Event{Source: deref(e.Source), DetailType: deref(e.DetailType), Detail: deref(e.Detail), Resources: e.Resources}
	switch {
	case ev.Source == "":
		return ev, "InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."
	case ev.DetailType == "":
		return ev, "InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	case e.Detail == nil:
		return ev, "InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."
	case strings.HasPrefix(ev.Source, "aws."):
		return ev, "NotAuthorizedForSourceException", "Not authorized for the source."
	case len(ev.DetailType) > 128:
		return ev, "InvalidArgument", "Parameter DetailType is not valid. Reason: longer than 128 characters."
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(ev.Detail), &obj); err != nil {
		return ev, "MalformedDetail", "Detail is malformed."
	}
	if e.Time != nil {
		t, ok := epochSeconds(string(e.Time))
		if !ok {
			return ev, "InvalidArgument", "Parameter Time is not valid: want epoch seconds as a JSON number."
		}
		ev.Time = t
	}
	bus := deref(e.EventBusName)
	if bus == "" {
		bus = "default"
	}
	if name, ok := strings.CutPrefix(bus, "arn:aws:events:"+h.region+":"+Account+":event-bus/"); ok {
		bus = name
	}
	h.mu.Lock()
	known := h.buses[bus]
	h.mu.Unlock()
	if !known {
		return ev, "ResourceNotFoundException", fmt.Sprintf("Event bus %s does not exist.", bus)
	}
	ev.Bus = bus
	return ev, "", ""
}

// epochSeconds parses a JSON number of seconds since the epoch exactly (to the
// nanosecond, without float rounding).
func epochSeconds(num string) (time.Time, bool) {
	if _, err := strconv.ParseFloat(num, 64); err != nil || strings.ContainsAny(num, "eE") {
		return time.Time{}, false
	}
	whole, frac, _ := strings.Cut(num, ".")
	secs, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || len(frac) > 9 {
		return time.Time{}, false
	}
	nanos := 0
	if frac != "" {
		if nanos, err = strconv.Atoi(frac + strings.Repeat("0", 9-len(frac))); err != nil {
			return time.Time{}, false
		}
	}
	if strings.HasPrefix(whole, "-") {
		nanos = -nanos
	}
	return time.Unix(secs, int64(nanos)).UTC(), true
}

// count records a call and returns the fault that applies to it.
func (h *Handler) count() Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	f := h.fault
	if f == (Fault{}) {
		return f
	}
	if f.Times > 0 {
		h.left--
		if h.left <= 0 {
			h.fault = Fault{}
		}
	}
	return f
}

// decode parses a JSON object strictly into in: members are exactly (case-sensitively)
// in's json tags, with the right types. It returns "" or what is wrong.
func decode(body []byte, in any) string {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return fmt.Sprintf("Expected a JSON object: %v.", err)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(in).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	for name := range members {
		if !known[name] {
			return fmt.Sprintf("Unknown member %q (members are case-sensitive).", name)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Sprintf("Member %q: expected %s, got JSON %s.", te.Field, te.Type, te.Value)
		}
		return fmt.Sprintf("Cannot parse the request: %v.", err)
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The AWS JSON 1.1 answers, shared with the other JSON fakes.
var (
	writeError = awsjson.WriteError
	randomHex  = awsjson.RandomHex
	newID      = awsjson.NewID
)
