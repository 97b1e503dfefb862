package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/easelhq/easel"
)

// decodeJSON reads one JSON object from the body into v, strictly: the body must be
// declared application/json (415 otherwise, also when Content-Type is missing), it is
// bounded by the server's MaxBodyBytes (413 beyond it), member names must match v's
// exactly and only once, unknown fields and trailing data are errors, and type errors
// name the field.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return easel.Errorf(easel.EUnsupportedMedia, "Send the request body as application/json, with Content-Type: application/json.")
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return tooLarge(s.cfg.MaxBodyBytes)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return decodeError(err, s.cfg.MaxBodyBytes)
	}
	return decodeStrict(data, v)
}

// decodeJSONWithin is decodeJSON with the body's arrival bounded by d: a client that
// trickles its body is cut off with 408 instead of holding what it was admitted to.
func (s *Server) decodeJSONWithin(w http.ResponseWriter, r *http.Request, v any, d time.Duration) error {
	rc := http.NewResponseController(w)
	// Not every ResponseWriter supports deadlines (httptest's recorder does not); the
	// server's ReadTimeout still bounds the body then.
	set := rc.SetReadDeadline(time.Now().Add(d)) == nil
	err := s.decodeJSON(w, r, v)
	if err == nil && set {
		// The body was read to its end. After an error the deadline stays: it also
		// bounds the server's reading of what is left of the body.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if easel.IsCode(err, easel.ERequestTimeout) {
		// The rest of the body may never come: close the connection after the answer
		// instead of letting the server wait for it.
		w.Header().Set("Connection", "close")
		return easel.WrapError(easel.ERequestTimeout, err, "The request body did not arrive within %s.", d)
	}
	return err
}

// decodeStrict decodes exactly one JSON object from data into v, after checkMembers.
func decodeStrict(data []byte, v any) error {
	if err := checkMembers(data, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, int64(len(data)))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return easel.Errorf(easel.EInvalid, "The request body must hold a single JSON object.")
	}
	return nil
}

func tooLarge(limit int64) error {
	return easel.Errorf(easel.EPayloadTooLarge, "The request body is larger than %d bytes.", limit)
}

// DecodeGenerateRequest decodes a generation request strictly from JSON bytes. It is
// what the handler uses (through decodeJSON) and what the fuzz target exercises.
func DecodeGenerateRequest(data []byte) (*easel.GenerateRequest, error) {
	var req easel.GenerateRequest
	if err := decodeStrict(data, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

func decodeError(err error, limit int64) error {
	var (
		mbe *http.MaxBytesError
		ute *json.UnmarshalTypeError
		se  *json.SyntaxError
	)
	switch {
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return easel.WrapError(easel.ERequestTimeout, err, "The request body did not arrive in time.")
	case errors.As(err, &ute):
		field := ute.Field
		// A member of an embedded struct is named through it ("GenerateRequest.seed");
		// the caller knows only the member.
		for {
			head, rest, ok := strings.Cut(field, ".")
			if !ok || head == "" || head[0] < 'A' || head[0] > 'Z' {
				break
			}
			field = rest
		}
		if field == "" {
			return easel.Errorf(easel.EInvalid, "The request body must be a JSON object.")
		}
		return easel.ParamErrorf(field, "%s must be %s, not %s.", field, describe(ute.Type.String()), ute.Value)
	case errors.As(err, &se):
		return easel.Errorf(easel.EInvalid, "The request body is not valid JSON (at byte %d).", se.Offset)
	case errors.Is(err, io.EOF):
		return easel.Errorf(easel.EInvalid, "The request body is empty; send a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return easel.Errorf(easel.EInvalid, "The request body is truncated JSON.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return easel.ParamErrorf(name, "Unknown field %q.", name)
	}
	return easel.WrapError(easel.EInvalid, err, "The request body could not be read as JSON.")
}

func describe(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "string":
		return "a string"
	case "int", "int64", "uint64":
		return "a whole number"
	case "float64":
		return "a number"
	case "bool":
		return "true or false"
	}
	return fmt.Sprintf("of type %s", goType)
}
