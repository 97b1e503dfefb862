package docrun

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// anyValue in expected JSON matches whatever is there (null included), as long as it
// is there.
const anyValue = "…"

// contains reports where actual fails to contain expected ("" when it does): objects
// need each expected member, arrays each expected element at its index, anything else
// equality. The result names the path, e.g. `images[0].width: 512, want 1024`.
func contains(actual, expected any, path string) string {
	if s, ok := expected.(string); ok && s == anyValue {
		return ""
	}
	switch want := expected.(type) {
	case map[string]any:
		got, ok := actual.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %s, want an object", orRoot(path), short(actual))
		}
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, ok := got[k]
			if !ok {
				return fmt.Sprintf("%s: missing", join(path, k))
			}
			if d := contains(v, want[k], join(path, k)); d != "" {
				return d
			}
		}
		return ""
	case []any:
		got, ok := actual.([]any)
		if !ok {
			return fmt.Sprintf("%s: %s, want an array", orRoot(path), short(actual))
		}
		if len(got) < len(want) {
			return fmt.Sprintf("%s: %d elements, want at least %d", orRoot(path), len(got), len(want))
		}
		for i := range want {
			if d := contains(got[i], want[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if short(actual) != short(expected) {
		return fmt.Sprintf("%s: %s, want %s", orRoot(path), short(actual), short(expected))
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "the answer"
	}
	return path
}

// short renders a JSON value for a message, cut at 80 characters.
func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// jsonBody returns the JSON document in a command's output: all of it, or from the
// first { or [ (curl -i prints the headers first).
func jsonBody(out string) (any, error) {
	out = strings.TrimSpace(out)
	if i := strings.IndexAny(out, "{["); i > 0 {
		out = out[i:]
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the answer is not JSON (%v): %.200s", err, out)
	}
	return v, nil
}
