package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/easelhq/easel"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	easel.EInvalid:             http.StatusBadRequest,
	easel.EUnauthorized:        http.StatusUnauthorized,
	easel.EForbidden:           http.StatusForbidden,
	easel.ENotFound:            http.StatusNotFound,
	easel.EMethodNotAllowed:    http.StatusMethodNotAllowed,
	easel.EConflict:            http.StatusConflict,
	easel.ERequestTimeout:      http.StatusRequestTimeout,
	easel.EPayloadTooLarge:     http.StatusRequestEntityTooLarge,
	easel.EUnsupportedMedia:    http.StatusUnsupportedMediaType,
	easel.EIdempotencyMismatch: http.StatusUnprocessableEntity,
	easel.EContentPolicy:       http.StatusUnprocessableEntity,
	easel.ERateLimited:         http.StatusTooManyRequests,
	easel.EQuotaExceeded:       http.StatusTooManyRequests,
	easel.EInternal:            http.StatusInternalServerError,
	easel.EModelError:          http.StatusBadGateway,
	easel.EOverloaded:          http.StatusServiceUnavailable,
	easel.EModelUnavailable:    http.StatusServiceUnavailable,
	easel.EModelTimeout:        http.StatusGatewayTimeout,
}

// Codes returns every error code the API answers with, sorted (for the docs test).
func Codes() []string {
	codes := make([]string, 0, len(statusOf))
	for c := range statusOf {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// StatusOf returns the HTTP status of an error code (500 for unknown codes).
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// typeOf gives each error code the error type of OpenAI's error object, so that clients
// written for OpenAI (its SDKs among them) read Easel's errors as theirs.
var typeOf = map[string]string{
	easel.EInvalid:             "invalid_request_error",
	easel.EUnauthorized:        "authentication_error",
	easel.EForbidden:           "permission_error",
	easel.ENotFound:            "invalid_request_error",
	easel.EConflict:            "invalid_request_error",
	easel.EMethodNotAllowed:    "invalid_request_error",
	easel.ERequestTimeout:      "invalid_request_error",
	easel.EPayloadTooLarge:     "invalid_request_error",
	easel.EUnsupportedMedia:    "invalid_request_error",
	easel.EIdempotencyMismatch: "invalid_request_error",
	easel.EContentPolicy:       "invalid_request_error",
	easel.ERateLimited:         "rate_limit_error",
	easel.EQuotaExceeded:       "insufficient_quota",
	easel.EInternal:            "server_error",
	easel.EModelError:          "server_error",
	easel.EOverloaded:          "server_error",
	easel.EModelUnavailable:    "server_error",
	easel.EModelTimeout:        "server_error",
}

// TypeOf returns the OpenAI-style error type of an error code ("server_error" for
// unknown codes).
func TypeOf(code string) string {
	if t, ok := typeOf[code]; ok {
		return t
	}
	return "server_error"
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

// errorJSON is the error object: Easel's code, message and param, and OpenAI's type.
type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   string `json:"param,omitempty"`
}

// writeError answers with the JSON error body of err. Internal causes are logged by
// the caller's middleware (through the recorded error), never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := easel.ErrorCode(err)
	body := errorBody{Error: errorJSON{Code: code, Message: easel.ErrorMessage(err), Type: TypeOf(code)}}
	var e *easel.Error
	if errors.As(err, &e) {
		body.Error.Param = e.Param
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
		}
	}
	if rec := recorderOf(r); rec != nil {
		rec.err = err
	}
	writeJSON(w, StatusOf(code), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"An internal error occurred.","type":"server_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
