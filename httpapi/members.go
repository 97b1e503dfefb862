package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/easelhq/easel"
)

// encoding/json matches member names to fields case-insensitively and lets a repeated
// member overwrite the first, so {"PROMPT": "x"} and {"prompt": "a", "prompt": "b"}
// would be accepted. checkMembers reads the top-level object's member names first and
// refuses both, before the body is decoded (encoding/json/v2 does this, but is not in
// the standard library without GOEXPERIMENT). Malformed JSON is left to the decoder,
// which reports it.

// positiveWhenGiven lists, per request type, the number members whose zero value means
// "absent" in the domain: given explicitly as 0 they are refused, so that {"n": 0} is
// an error (the API says minimum 1) while a missing n still means 1.
var positiveWhenGiven = map[reflect.Type][]string{
	reflect.TypeFor[easel.GenerateRequest](): {"n", "width", "height"},
}

var memberNames sync.Map // reflect.Type → map[string]bool

// fieldNames returns the JSON member names of struct type t.
func fieldNames(t reflect.Type) map[string]bool {
	if m, ok := memberNames.Load(t); ok {
		return m.(map[string]bool)
	}
	names := map[string]bool{}
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			// An embedded struct's members are the outer object's, as in encoding/json.
			for name := range fieldNames(f.Type) {
				names[name] = true
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	memberNames.Store(t, names)
	return names
}

// checkMembers checks the member names of the JSON object in data against the fields
// of *v (a pointer to a struct): each exactly as the field's name, once; and the
// members of positiveWhenGiven not 0.
func checkMembers(data []byte, v any) error {
	t := reflect.TypeOf(v)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	t = t.Elem()
	names := fieldNames(t)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil // not an object: the decoder says so
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		name, ok := tok.(string)
		if !ok {
			return nil
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		if seen[name] {
			return easel.ParamErrorf(name, "The member %q is given more than once.", name)
		}
		seen[name] = true
		if !names[name] {
			for known := range names {
				if strings.EqualFold(known, name) {
					return easel.ParamErrorf(name, "Unknown field %q: member names are case-sensitive; did you mean %q?", name, known)
				}
			}
			return easel.ParamErrorf(name, "Unknown field %q.", name)
		}
	}
	for _, name := range positiveMembers(t) {
		if seen[name] {
			if err := checkPositive(data, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// positiveMembers lists the members of positiveWhenGiven for t and the structs it
// embeds.
func positiveMembers(t reflect.Type) []string {
	out := slices.Clone(positiveWhenGiven[t])
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			out = append(out, positiveMembers(f.Type)...)
		}
	}
	return out
}

// checkPositive refuses member name of the object in data when it is the number 0.
func checkPositive(data []byte, name string) error {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var n json.Number
	if json.Unmarshal(m[name], &n) != nil {
		return nil // not a number: the decoder names the field
	}
	if f, err := n.Float64(); err == nil && f == 0 {
		return easel.ParamErrorf(name, "%s must be at least 1; leave it out for the default.", name)
	}
	return nil
}
