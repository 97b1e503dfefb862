package httpapi_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/httpapi"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/offline"
	"github.com/easelhq/easel/service"
)

// newServer wires a Server over real local adapters in a temp folder.
func newServer(t testing.TB, cfg httpapi.Config) (*httpapi.Server, string) {
	t.Helper()
	st, fs, dir := localtest.Stores(t, "http://example.test/images/")
	svc, err := service.New(service.Config{Models: []easel.Model{offline.New()}, Catalog: st, Blobs: fs})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Service, cfg.Blobs, cfg.ServeImages = svc, fs, true
	return httpapi.New(cfg), dir
}

// openAPIRoutes reads "METHOD /path" pairs from the OpenAPI document: path keys are
// indented two spaces under "paths:", methods four.
func openAPIRoutes(t *testing.T) []string {
	t.Helper()
	var routes []string
	inPaths, path := false, ""
	sc := bufio.NewScanner(bytes.NewReader(httpapi.OpenAPI))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && len(line) > 0 && line[0] != ' ':
			inPaths = false
		case inPaths && strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case inPaths && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     "):
			m := strings.TrimSuffix(strings.TrimSpace(line), ":")
			switch m {
			case "get", "post", "put", "patch", "delete":
				routes = append(routes, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	return routes
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	srv, _ := newServer(t, httpapi.Config{Page: http.NotFoundHandler()})
	got := srv.Routes()
	for i, r := range got { // {name...} matches slashes too; OpenAPI writes it {name}
		got[i] = strings.ReplaceAll(r, "...}", "}")
	}
	slices.Sort(got)
	want := openAPIRoutes(t)
	if !slices.Equal(got, want) {
		t.Errorf("router routes = %v\nOpenAPI routes = %v", got, want)
	}
}

func TestStatusTable(t *testing.T) {
	for code, want := range map[string]int{
		easel.EInvalid: 400, easel.EUnauthorized: 401, easel.ENotFound: 404, easel.EPayloadTooLarge: 413,
		easel.EContentPolicy: 422, easel.ERateLimited: 429, easel.EQuotaExceeded: 429,
		easel.EModelUnavailable: 503, easel.EModelTimeout: 504, easel.EInternal: 500, "unknown": 500,
	} {
		if got := httpapi.StatusOf(code); got != want {
			t.Errorf("StatusOf(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestOriginSecret(t *testing.T) {
	srv, _ := newServer(t, httpapi.Config{OriginSecret: "s3cr3t-generated-in-test"})
	for _, tc := range []struct {
		path, header, peer string
		want               int
	}{
		{"/healthz", "", "", 200},
		{"/readyz", "", "", 403},
		{"/v1/models", "wrong", "", 403},
		{"/readyz", "s3cr3t-generated-in-test", "", 200},
		// The instance's own readiness check (the boot script) needs no secret...
		{"/readyz", "", "127.0.0.1:40000", 200},
		{"/readyz", "", "[::1]:40000", 200},
		{"/readyz", "", "[::ffff:127.0.0.1]:40000", 200},
		// ...but nothing else from loopback, and nothing from other peers.
		{"/v1/models", "", "127.0.0.1:40000", 403},
		{"/metrics", "", "127.0.0.1:40000", 403},
		// The ALB's health check: a private peer, no X-Forwarded-For (see
		// TestReadyzForHealthChecker).
		{"/readyz", "", "10.0.0.7:40000", 200},
		{"/readyz", "", "[fd00:ec2::7]:40000", 200},
		{"/v1/models", "", "10.0.0.7:40000", 403},
		{"/readyz", "", "198.51.100.7:40000", 403},
		{"/readyz", "", "not-an-address", 403},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		if tc.peer != "" {
			r.RemoteAddr = tc.peer
		}
		if tc.header != "" {
			r.Header.Set(httpapi.OriginHeader, tc.header)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("GET %s from %q with origin header %q = %d, want %d", tc.path, r.RemoteAddr, tc.header, w.Code, tc.want)
		}
	}
}

// TestReadyzForHealthChecker: the ALB's health checker reaches /readyz without the
// origin secret (a private peer, no X-Forwarded-For), so a draining instance leaves the
// load balancer; a request forwarded through CloudFront and the ALB, which always
// carries X-Forwarded-For, does not, whatever the header says.
func TestReadyzForHealthChecker(t *testing.T) {
	srv, _ := newServer(t, httpapi.Config{OriginSecret: "s3cr3t-generated-in-test"})
	for _, tc := range []struct {
		name, peer string
		xff        []string // nil: no header
		want       int
	}{
		{"ALB node, RFC 1918 10/8", "10.40.3.17:51234", nil, 200},
		{"RFC 1918 172.16/12", "172.31.0.9:51234", nil, 200},
		{"RFC 1918 192.168/16", "192.168.1.2:51234", nil, 200},
		{"ULA", "[fd12:3456::1]:51234", nil, 200},
		{"IPv4-mapped private", "[::ffff:10.40.3.17]:51234", nil, 200},
		{"forwarded by the ALB", "10.40.3.17:51234", []string{"203.0.113.9"}, 403},
		{"forwarded, claiming loopback", "10.40.3.17:51234", []string{"127.0.0.1"}, 403},
		{"forwarded, empty header", "10.40.3.17:51234", []string{""}, 403},
		{"public peer", "203.0.113.9:51234", nil, 403},
		{"just outside 172.16/12", "172.32.0.1:51234", nil, 403},
		{"link-local (instance metadata range)", "169.254.169.254:51234", nil, 403},
		{"IPv6 link-local", "[fe80::1]:51234", nil, 403},
		{"CGNAT", "100.64.0.1:51234", nil, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/readyz", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != nil {
				r.Header["X-Forwarded-For"] = tc.xff
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("GET /readyz from %s, X-Forwarded-For %q = %d, want %d", tc.peer, tc.xff, w.Code, tc.want)
			}
			// Only /readyz: the API stays behind the secret for the same peer.
			r = httptest.NewRequest("GET", "/v1/models", nil)
			r.RemoteAddr = tc.peer
			w = httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != 403 {
				t.Errorf("GET /v1/models from %s = %d, want 403", tc.peer, w.Code)
			}
		})
	}
}

func TestDrainingFailsReadiness(t *testing.T) {
	srv, _ := newServer(t, httpapi.Config{})
	get := func() int {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		return w.Code
	}
	if c := get(); c != 200 {
		t.Fatalf("/readyz = %d, want 200", c)
	}
	srv.SetDraining()
	if c := get(); c != 503 {
		t.Errorf("/readyz while draining = %d, want 503", c)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv, _ := newServer(t, httpapi.Config{Page: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("page CSP = %q", csp)
	}
	w = httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/v1/models", nil))
	if w.Header().Get("Cache-Control") != "no-store" || w.Code != 401 {
		t.Errorf("/v1/models without key: %d, Cache-Control %q", w.Code, w.Header().Get("Cache-Control"))
	}
}

func FuzzDecodeGenerateRequest(f *testing.F) {
	for _, s := range []string{
		`{"prompt":"a cat"}`,
		`{"prompt":"a cat","width":512,"height":512,"n":2,"seed":7}`,
		`{"prompt":"x","seed":-1}`,
		`{"prompt":"x","cfg_scale":"high"}`,
		`{"prompt":"x"} {}`,
		`[]`, `null`, `{"prompt":`, `{"unknown":1}`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	spec := offline.New().Spec()
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := httpapi.DecodeGenerateRequest(data)
		if err != nil {
			code := easel.ErrorCode(err)
			if code != easel.EInvalid && code != easel.EPayloadTooLarge {
				t.Fatalf("DecodeGenerateRequest(%q) error code %q, want invalid_request", data, code)
			}
			if easel.ErrorMessage(err) == "" {
				t.Fatalf("error without message for %q", data)
			}
			return
		}
		if err := spec.Validate(req); err != nil {
			var e *easel.Error
			if easel.ErrorCode(err) != easel.EInvalid || !asError(err, &e) || e.Param == "" {
				t.Fatalf("Validate(%+v) = %v, want invalid_request naming a param", req, err)
			}
			return
		}
		r := *req
		spec.Normalize(&r)
		if r.Width < 256 || r.Width > 2048 || r.Height < 256 || r.Height > 2048 || r.N < 1 || r.N > spec.MaxImages {
			t.Fatalf("valid request normalized out of bounds: %+v", r)
		}
	})
}

func asError(err error, target **easel.Error) bool {
	e, ok := err.(*easel.Error)
	*target = e
	return ok
}

// FuzzImagePath asks the local image server for arbitrary paths: nothing outside the
// image folder is ever served.
func FuzzImagePath(f *testing.F) {
	for _, s := range []string{
		"x.png", "../secret.txt", "..%2fsecret.txt", "%2e%2e/secret.txt", "....//secret.txt",
		"aaaaaaaaaaaaaaaaaaaaaaaaaa.png", "aaaaaaaaaaaaaaaaaaaaaaaaaa.thumb.jpg", "/etc/passwd", "\x00",
	} {
		f.Add(s)
	}
	srv, dir := newServer(f, httpapi.Config{})
	secret := []byte("this-must-never-be-served")
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), secret, 0o600); err != nil {
		f.Fatal(err)
	}
	img := []byte("\x89PNG\r\n\x1a\nnot-really")
	if err := os.WriteFile(filepath.Join(dir, "images", "aaaaaaaaaaaaaaaaaaaaaaaaaa.png"), img, 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := http.NewRequest("GET", "http://example.test/images/"+p, nil)
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Body)
		if bytes.Contains(body, secret) {
			t.Fatalf("GET /images/%q served a file outside the image folder", p)
		}
		if w.Code == 200 && !bytes.Equal(body, img) {
			t.Fatalf("GET /images/%q = 200 with unexpected content %q", p, body)
		}
	})
}
