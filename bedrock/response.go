package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"

	asmb64 "github.com/segmentio/asm/base64"
)

// This file is the hot path: an answer is 1.5-2 MB of JSON that is almost all base64.
// Rather than unmarshalling into strings and decoding those into new buffers, the
// scanner below finds each base64 string in the body and decodes it in place, into
// the body's own bytes (the decoded form is shorter, and it is written only behind
// what is still to be read). Returned images are subslices of the body. The other
// fields are small and go through encoding/json.

// rawImage is one image slot of an answer: an image, or the reason there is none.
type rawImage struct {
	data    []byte // decoded image bytes; nil if the slot carries no image
	seed    uint64
	hasSeed bool
	// reason is the finish reason of the slot: "" for success, else e.g.
	// "Filter reason: output image", "CONTENT_FILTERED", "Inference error".
	reason string
}

// answer is one parsed InvokeModel response body.
type answer struct {
	slots []rawImage
	// errMsg is the Amazon family's "error" field: set when images were withheld.
	errMsg string
}

// decodeResponse parses an InvokeModel answer of any family, decoding images in place.
// body must not be used by the caller afterwards except through the returned images.
func decodeResponse(body []byte) (*answer, error) {
	s := scanner{b: body}
	var (
		a       answer
		images  [][]byte
		seeds   []uint64
		reasons []*string
		haveImg bool
	)
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "images":
			haveImg = true
			return s.array(func() error {
				img, err := s.base64Value()
				images = append(images, img)
				return err
			})
		case "artifacts":
			haveImg = true
			return s.array(func() error { return s.artifact(&a) })
		case "seeds":
			return s.unmarshal(&seeds)
		case "finish_reasons":
			return s.unmarshal(&reasons)
		case "error":
			var msg *string
			if err := s.unmarshal(&msg); err != nil {
				return err
			}
			if msg != nil {
				a.errMsg = *msg
			}
			return nil
		default:
			_, err := s.skip()
			return err
		}
	})
	if err != nil {
		return nil, fmt.Errorf("parse model answer: %w", err)
	}
	if s.ws(); s.i != len(s.b) {
		return nil, fmt.Errorf("parse model answer: trailing data at offset %d", s.i)
	}
	// The Stability shape: parallel arrays images, seeds and finish_reasons, any of
	// which may be short or missing when the output was filtered.
	n := max(len(images), len(seeds), len(reasons))
	if n == 0 && !haveImg && len(a.slots) == 0 && a.errMsg == "" {
		return nil, errors.New("parse model answer: no images, artifacts or finish reasons")
	}
	for i := range n {
		var r rawImage
		if i < len(images) && len(images[i]) > 0 {
			r.data = images[i]
		}
		if i < len(seeds) {
			r.seed, r.hasSeed = seeds[i], true
		}
		if i < len(reasons) && reasons[i] != nil {
			r.reason = *reasons[i]
		}
		a.slots = append(a.slots, r)
	}
	return &a, nil
}

// artifact parses one SDXL artifact {"base64", "seed", "finishReason"}.
func (s *scanner) artifact(a *answer) error {
	var r rawImage
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "base64":
			img, err := s.base64Value()
			r.data = img
			return err
		case "seed":
			r.hasSeed = true
			return s.unmarshal(&r.seed)
		case "finishReason":
			var reason *string
			if err := s.unmarshal(&reason); err != nil {
				return err
			}
			if reason != nil && *reason != "SUCCESS" {
				r.reason = *reason
			}
			return nil
		default:
			_, err := s.skip()
			return err
		}
	})
	if len(r.data) == 0 {
		r.data = nil
	}
	a.slots = append(a.slots, r)
	return err
}

// scanner walks a JSON document held in b.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) errf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", s.i, fmt.Sprintf(format, args...))
}

// consume skips white space and then the byte c, or fails.
func (s *scanner) consume(c byte) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return s.errf("want %q", c)
	}
	s.i++
	return nil
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// object walks an object, calling field with each key (unescaped keys only; keys
// this package cares about never need escapes) positioned at the value, which
// field must consume.
func (s *scanner) object(field func(key []byte) error) error {
	if err := s.consume('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		start, end, _, err := s.str()
		if err != nil {
			return err
		}
		if err := s.consume(':'); err != nil {
			return err
		}
		s.ws()
		if err := field(s.b[start:end]); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.errf("want ',' or '}'")
		}
	}
}

// array walks an array, calling elem positioned at each element.
func (s *scanner) array(elem func() error) error {
	if s.peek() == 'n' { // null: no elements
		return s.literal("null")
	}
	if err := s.consume('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.errf("want ',' or ']'")
		}
	}
}

func (s *scanner) literal(lit string) error {
	if !hasPrefix(s.b[s.i:], lit) {
		return s.errf("want %s", lit)
	}
	s.i += len(lit)
	return nil
}

// str reads a string and returns the bounds of its contents (between the quotes) and
// whether it holds escapes.
func (s *scanner) str() (start, end int, escaped bool, err error) {
	if err := s.consume('"'); err != nil {
		return 0, 0, false, err
	}
	start = s.i
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			return 0, 0, false, s.errf("unterminated string")
		}
		q := s.i + j
		// The quote is escaped if an odd number of backslashes precede it.
		k := q
		for k > start && s.b[k-1] == '\\' {
			k--
		}
		if bs := q - k; bs > 0 {
			escaped = true
			if bs%2 == 1 {
				s.i = q + 1
				continue
			}
		}
		if !escaped && bytes.IndexByte(s.b[start:q], '\\') >= 0 {
			escaped = true
		}
		s.i = q + 1
		return start, q, escaped, nil
	}
}

// skip passes over one value of any kind and returns its span.
func (s *scanner) skip() ([]byte, error) {
	s.ws()
	start := s.i
	if s.i >= len(s.b) {
		return nil, s.errf("want a value")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		if _, _, _, err := s.str(); err != nil {
			return nil, err
		}
	case c == '{':
		if err := s.object(func([]byte) error { _, err := s.skip(); return err }); err != nil {
			return nil, err
		}
	case c == '[':
		if err := s.array(func() error { _, err := s.skip(); return err }); err != nil {
			return nil, err
		}
	default: // number, true, false, null
		for s.i < len(s.b) {
			c := s.b[s.i]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			s.i++
		}
		if s.i == start {
			return nil, s.errf("want a value")
		}
	}
	return s.b[start:s.i], nil
}

// unmarshal decodes the next (small) value with encoding/json.
func (s *scanner) unmarshal(v any) error {
	raw, err := s.skip()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("offset %d: %w", s.i-len(raw), err)
	}
	return nil
}

// decodeChunk is how much base64 is decoded at a time; a multiple of 4.
const decodeChunk = 8192

// base64Value reads a string of standard base64 (or null) and decodes it in place,
// returning the decoded bytes as a subslice of the body.
func (s *scanner) base64Value() ([]byte, error) {
	if s.peek() == 'n' {
		return nil, s.literal("null")
	}
	start, end, escaped, err := s.str()
	if err != nil {
		return nil, err
	}
	if escaped { // some encoders write "\/": unescape first (slow, rare)
		var text string
		if err := json.Unmarshal(s.b[start-1:end+1], &text); err != nil {
			return nil, fmt.Errorf("offset %d: %w", start, err)
		}
		out, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("offset %d: image: %w", start, err)
		}
		return out, nil
	}
	// Decode a chunk at a time into a small buffer, then copy it down into the body:
	// after each chunk the write position (3/4 of the read position) stays behind
	// what is still to be read.
	var tmp [decodeChunk / 4 * 3]byte
	n := 0
	for off := start; off < end; off += decodeChunk {
		k, err := asmb64.StdEncoding.Decode(tmp[:], s.b[off:min(off+decodeChunk, end)])
		if err != nil {
			return nil, fmt.Errorf("offset %d: image: %w", start, err)
		}
		n += copy(s.b[start+n:], tmp[:k])
	}
	return s.b[start : start+n : end], nil
}

// The first and last bytes of every PNG: the signature and the empty IEND chunk.
const (
	pngMagic = "\x89PNG\r\n\x1a\n"
	pngIEND  = "\x00\x00\x00\x00IEND\xae\x42\x60\x82"
)

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }
func hasSuffix(b []byte, s string) bool { return len(b) >= len(s) && string(b[len(b)-len(s):]) == s }

// inspectImage checks that data is a whole PNG or JPEG and returns its content type
// and size, reading only its header (image.DecodeConfig's work, without the format
// registry).
func inspectImage(data []byte) (contentType string, width, height int, err error) {
	switch {
	case hasPrefix(data, pngMagic):
		if !hasSuffix(data, pngIEND) {
			return "", 0, 0, errors.New("truncated PNG: no IEND chunk")
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return "", 0, 0, fmt.Errorf("PNG header: %w", err)
		}
		return "image/png", cfg.Width, cfg.Height, nil
	case len(data) > 4 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff:
		if !hasSuffix(data, "\xff\xd9") {
			return "", 0, 0, errors.New("truncated JPEG: no EOI marker")
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return "", 0, 0, fmt.Errorf("JPEG header: %w", err)
		}
		return "image/jpeg", cfg.Width, cfg.Height, nil
	}
	return "", 0, 0, errors.New("neither PNG nor JPEG")
}
