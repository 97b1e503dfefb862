package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/easelhq/easel/httpapi"
	"github.com/easelhq/easel/service"
)

type answer struct {
	status int
	header http.Header
	code   string
	param  string
}

func call(t *testing.T, method, url, auth, contentType, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Param string }
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Errorf("%s %s = %d with a body that is not the JSON error: %q", method, url, resp.StatusCode, b)
		}
	}
	return answer{resp.StatusCode, resp.Header, e.Error.Code, e.Error.Param}
}

// Strict input (issue 9, item 7; issue 13): member names are exact and given once, a
// prompt needs a visible character, n is at least 1 when given, and the body must say
// it is JSON.
func TestStrictGenerateInput(t *testing.T) {
	base, key := liveServer(t, httpapi.Config{}, service.DefaultLimits())
	auth := "Bearer " + key
	for _, tc := range []struct {
		name, body, param string
	}{
		{"upper-case member", `{"PROMPT": "a cat"}`, "PROMPT"},
		{"mixed-case member", `{"prompt": "a cat", "Width": 512, "height": 512}`, "Width"},
		{"duplicate member", `{"prompt": "a cat", "prompt": "a dog"}`, "prompt"},
		{"duplicate n", `{"prompt": "a cat", "n": 1, "n": 4}`, "n"},
		{"zero width space", `{"prompt": "\u200b\u200b"}`, "prompt"},
		{"byte order mark and spaces", "{\"prompt\": \"\ufeff \u00a0\\t\"}", "prompt"},
		{"word joiner and hangul filler", `{"prompt": "\u2060\u3164"}`, "prompt"},
		{"n zero", `{"prompt": "a cat", "n": 0}`, "n"},
		{"width zero", `{"prompt": "a cat", "width": 0, "height": 512}`, "width"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, "POST", base+"/v1/images", auth, "application/json", tc.body)
			if a.status != 400 || a.code != "invalid_request" || a.param != tc.param {
				t.Errorf("POST %s = %d %s param %q, want 400 invalid_request param %q", tc.body, a.status, a.code, a.param, tc.param)
			}
		})
	}
	t.Run("absent n means 1", func(t *testing.T) {
		if a := call(t, "POST", base+"/v1/images", auth, "application/json", `{"prompt": "a cat", "width": 256, "height": 256}`); a.status != 201 {
			t.Errorf("POST without n = %d, want 201", a.status)
		}
	})
	t.Run("no content type", func(t *testing.T) {
		a := call(t, "POST", base+"/v1/images", auth, "", `{"prompt": "a cat"}`)
		if a.status != 415 || a.code != "unsupported_media" {
			t.Errorf("POST without Content-Type = %d %s, want 415 unsupported_media", a.status, a.code)
		}
	})
	t.Run("OpenAI endpoint too", func(t *testing.T) {
		a := call(t, "POST", base+"/v1/images/generations", auth, "application/json", `{"Prompt": "a cat"}`)
		if a.status != 400 || a.param != "Prompt" {
			t.Errorf("POST /v1/images/generations with Prompt = %d param %q, want 400 param Prompt", a.status, a.param)
		}
	})
}

// The auth scheme is case-insensitive (RFC 9110): "bearer KEY" works.
func TestAuthSchemeCaseInsensitive(t *testing.T) {
	base, key := liveServer(t, httpapi.Config{}, service.DefaultLimits())
	for _, auth := range []string{"Bearer " + key, "bearer " + key, "BEARER " + key, "  Bearer   " + key} {
		if a := call(t, "GET", base+"/v1/me", auth, "", ""); a.status != 200 {
			t.Errorf("GET /v1/me with %.10q... = %d, want 200", auth, a.status)
		}
	}
	for _, auth := range []string{key, "Basic " + key, "Bearerx " + key} {
		if a := call(t, "GET", base+"/v1/me", auth, "", ""); a.status != 401 {
			t.Errorf("GET /v1/me with %.10q... = %d, want 401", auth, a.status)
		}
	}
}

// Unknown routes and wrong methods under /v1 answer the JSON error, never the page or
// plain text.
func TestAPIRouteErrorsAreJSON(t *testing.T) {
	base, key := liveServer(t, httpapi.Config{Page: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>the page</html>")
	})}, service.DefaultLimits())
	auth := "Bearer " + key
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/v1/nope", 404, "not_found", ""},
		{"POST", "/v1/nope", 404, "not_found", ""},
		{"GET", "/v1", 404, "not_found", ""},
		{"PUT", "/v1/images", 405, "method_not_allowed", "GET, HEAD, POST"},
		{"DELETE", "/v1/models", 405, "method_not_allowed", "GET, HEAD"},
		{"PATCH", "/v1/me", 405, "method_not_allowed", "GET, HEAD"},
		{"POST", "/v1/models", 405, "method_not_allowed", "GET, HEAD"},
	} {
		a := call(t, tc.method, base+tc.path, auth, "", "")
		if a.status != tc.status || a.code != tc.code || a.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d %q (Allow %q), want %d %q (Allow %q)", tc.method, tc.path, a.status, a.code, a.header.Get("Allow"), tc.status, tc.code, tc.allow)
		}
	}
	if a := call(t, "GET", base+"/", "", "", ""); a.status != 200 {
		t.Errorf("GET / = %d, want the page", a.status)
	}
}
