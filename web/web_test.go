package web_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/easelhq/easel/web"
)

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// assetBase returns the versioned asset base that index.html links, e.g. /assets/v-0123.
func assetBase(t *testing.T, h http.Handler) string {
	t.Helper()
	body := get(t, h, "/", nil).Body.String()
	m := regexp.MustCompile(`src="(/assets/v-[0-9a-f]+)/app\.js"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("index.html links no versioned app.js:\n%s", body)
	}
	return m[1]
}

func TestIndex(t *testing.T) {
	h := web.Handler()
	for _, path := range []string{"/", "/index.html"} {
		t.Run(path, func(t *testing.T) {
			rec := get(t, h, path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", path, rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/html; charset=utf-8", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
			body := rec.Body.String()
			for _, want := range []string{`<label for="prompt">Prompt</label>`, `<label for="api-key">API key</label>`, `id="generate">Generate</button>`} {
				if !strings.Contains(body, want) {
					t.Errorf("index.html lacks %q", want)
				}
			}
			if strings.Contains(body, "{{ASSETS}}") {
				t.Error("index.html still has the {{ASSETS}} placeholder")
			}
		})
	}
}

// The page runs under a strict Content-Security-Policy: no inline script or style,
// no event handler attributes, nothing from another origin.
func TestIndexFitsCSP(t *testing.T) {
	body := get(t, web.Handler(), "/", nil).Body.String()
	bad := []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`), // inline script
		regexp.MustCompile(`<script\b[^>]*\bsrc="[^"]*"[^>]*>[^<]+</script>`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`),
	}
	for _, re := range bad {
		if m := re.FindString(body); m != "" {
			t.Errorf("index.html has %q (matches %s), which the CSP forbids", m, re)
		}
	}
}

func TestAssets(t *testing.T) {
	h := web.Handler()
	base := assetBase(t, h)
	tests := []struct {
		path, contentType, cache string
	}{
		{base + "/app.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{base + "/form.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{base + "/style.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{base + "/favicon.svg", "image/svg+xml", "public, max-age=31536000, immutable"},
		{"/assets/app.js", "text/javascript; charset=utf-8", "no-cache"},
		// Another build's version: this build's file, never cached as that version.
		{"/assets/v-0000000000000000/app.js", "text/javascript; charset=utf-8", "no-cache"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, h, tt.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tt.path, rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cache)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			etag := rec.Header().Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
				t.Fatalf("ETag = %q, want a quoted hash", etag)
			}
			again := get(t, h, tt.path, map[string]string{"If-None-Match": etag})
			if again.Code != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match: %s = %d, want 304", tt.path, etag, again.Code)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	h := web.Handler()
	base := assetBase(t, h)
	for _, path := range []string{
		"/assets/", "/assets", base + "/", base + "/nope.js", "/assets/nope.css",
		"/static/index.html", "/assets/../index.html", "/favicon.ico", "/v1/unknown", "/index.htm",
	} {
		t.Run(path, func(t *testing.T) {
			rec := get(t, h, path, nil)
			if rec.Code != http.StatusNotFound {
				t.Errorf("GET %s = %d, want 404", path, rec.Code)
			}
			if strings.Contains(rec.Body.String(), "<a href") {
				t.Errorf("GET %s lists a directory:\n%s", path, rec.Body)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	h := web.Handler()
	head := httptest.NewRecorder()
	h.ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/", nil))
	if head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Errorf("HEAD / = %d with %d bytes, want 200 and no body", head.Code, head.Body.Len())
	}
	post := httptest.NewRecorder()
	h.ServeHTTP(post, httptest.NewRequest(http.MethodPost, "/", nil))
	if post.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", post.Code)
	}
}
