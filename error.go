package easel

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to one HTTP status in package httpapi.
const (
	EInvalid             = "invalid_request"      // 400
	EUnauthorized        = "unauthorized"         // 401
	EForbidden           = "forbidden"            // 403
	ENotFound            = "not_found"            // 404
	EMethodNotAllowed    = "method_not_allowed"   // 405
	EConflict            = "conflict"             // 409: e.g. an idempotent request still running
	ERequestTimeout      = "request_timeout"      // 408: the body did not arrive in time
	EPayloadTooLarge     = "payload_too_large"    // 413
	EUnsupportedMedia    = "unsupported_media"    // 415
	EIdempotencyMismatch = "idempotency_mismatch" // 422: same Idempotency-Key, other body
	EContentPolicy       = "content_policy"       // 422: the model's content filter refused
	ERateLimited         = "rate_limited"         // 429
	EQuotaExceeded       = "quota_exceeded"       // 429
	EInternal            = "internal"             // 500
	EModelError          = "model_error"          // 502: the model failed to produce an image
	EOverloaded          = "overloaded"           // 503: shed before any work
	EModelUnavailable    = "model_unavailable"    // 503
	EModelTimeout        = "model_timeout"        // 504
)

// Error is the one error type of the domain. Message is written for the API's caller;
// Err, if any, is the internal cause and is logged, never shown.
type Error struct {
	Code    string
	Message string
	// Param names the request field at fault, when there is one.
	Param string
	// RetryAfter, when positive, tells the caller when to try again.
	RetryAfter time.Duration
	// Err is the underlying cause.
	Err error
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParamErrorf returns an invalid_request *Error about one request field.
func ParamErrorf(param, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Param: param, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message whose cause is err.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-facing message of err: the Message of the first *Error
// in its chain, or a generic sentence for internal errors (whose text may hold details
// the caller must not see).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "An internal error occurred."
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }
