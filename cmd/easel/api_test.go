package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiClient calls a test server.
type apiClient struct {
	t    *testing.T
	base string
}

type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r *apiResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.status, err, r.body)
	}
	return m
}

func (r *apiResponse) errorField(t *testing.T, field string) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	s, _ := e[field].(string)
	return s
}

func (c *apiClient) do(method, path, key string, body any, hdr ...string) *apiResponse {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &apiResponse{status: resp.StatusCode, header: resp.Header, body: data}
}

func (c *apiClient) generate(key string, body map[string]any, hdr ...string) []map[string]any {
	c.t.Helper()
	r := c.do("POST", "/v1/images", key, body, hdr...)
	if r.status != http.StatusCreated {
		c.t.Fatalf("POST /v1/images = %d %s, want 201", r.status, r.body)
	}
	var out struct{ Images []map[string]any }
	if err := json.Unmarshal(r.body, &out); err != nil {
		c.t.Fatal(err)
	}
	return out.Images
}

func (c *apiClient) fetch(url string) []byte {
	c.t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		c.t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s = %d, want 200", url, resp.StatusCode)
	}
	return b
}

// createKey runs `easel keys create` against the server's data, as a user would while
// the server runs.
func createKey(t *testing.T, data, user string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"keys", "create", "--user", user, "--data", data}, &out, &errOut); err != nil {
		t.Fatalf("keys create: %v: %s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1]
}

func small(prompt string) map[string]any {
	return map[string]any{"prompt": prompt, "width": 256, "height": 256}
}

func TestAPIScenario(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--thumbnails=true")
	c := &apiClient{t: t, base: s.url}
	alice := createKey(t, s.data, "alice")
	bob := createKey(t, s.data, "bob")

	t.Run("admin key from first start works", func(t *testing.T) {
		if r := c.do("GET", "/v1/me", s.key, nil); r.status != 200 || r.json(t)["user"] != "admin" {
			t.Fatalf("GET /v1/me with admin key = %d %s", r.status, r.body)
		}
	})
	t.Run("401 without or with a wrong key", func(t *testing.T) {
		for _, key := range []string{"", "easel_wrong", "Basic abc"} {
			r := c.do("GET", "/v1/images", key, nil)
			if r.status != 401 || r.errorField(t, "code") != "unauthorized" {
				t.Errorf("GET /v1/images with key %q = %d %s, want 401 unauthorized", key, r.status, r.body)
			}
		}
	})

	body := small("a lighthouse on a cliff at dusk")
	body["seed"] = 1234
	imgs := c.generate(alice, body)
	if len(imgs) != 1 {
		t.Fatalf("generate returned %d images, want 1", len(imgs))
	}
	img := imgs[0]
	id := img["id"].(string)
	for _, f := range []string{"id", "url", "width", "height", "seed", "model", "prompt", "content_type", "bytes", "sha256", "created_at"} {
		if _, ok := img[f]; !ok {
			t.Errorf("image has no %q: %v", f, img)
		}
	}
	if img["seed"].(float64) != 1234 || img["model"] != "offline" || img["width"].(float64) != 256 {
		t.Errorf("image = %v, want seed 1234, model offline, width 256", img)
	}

	t.Run("image URL serves the stored bytes", func(t *testing.T) {
		b := c.fetch(img["url"].(string))
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != img["sha256"] || int64(len(b)) != int64(img["bytes"].(float64)) {
			t.Errorf("fetched image: sha256 or size differ from the record")
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("fetched image is not a PNG: %v", err)
		}
		if !bytes.Contains(b, []byte("parameters\x00a lighthouse on a cliff at dusk")) {
			t.Errorf("PNG has no parameters chunk with the prompt")
		}
		resp, err := http.Get(img["url"].(string))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("Cache-Control = %q", cc)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("ETag %q, Content-Type %q", resp.Header.Get("ETag"), resp.Header.Get("Content-Type"))
		}
		req, _ := http.NewRequest("GET", img["url"].(string), nil)
		req.Header.Set("Range", "bytes=0-7")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		part, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 206 || string(part) != "\x89PNG\r\n\x1a\n" {
			t.Errorf("Range request = %d %q, want 206 and the PNG signature", resp.StatusCode, part)
		}
	})

	t.Run("same seed twice gives the same bytes", func(t *testing.T) {
		again := c.generate(alice, body)[0]
		if again["id"] == id {
			t.Fatalf("second generation reused the id")
		}
		if again["sha256"] != img["sha256"] {
			t.Errorf("same prompt and seed: sha256 %v, then %v", img["sha256"], again["sha256"])
		}
	})

	t.Run("list, get, cross-user 404s", func(t *testing.T) {
		r := c.do("GET", "/v1/images", alice, nil)
		list := r.json(t)["images"].([]any)
		if r.status != 200 || len(list) != 2 {
			t.Fatalf("alice's list = %d, %d images, want 200 and 2", r.status, len(list))
		}
		if list[1].(map[string]any)["id"] != id {
			t.Errorf("list is not newest first")
		}
		if r := c.do("GET", "/v1/images", bob, nil); len(r.json(t)["images"].([]any)) != 0 {
			t.Errorf("bob sees alice's images: %s", r.body)
		}
		if r := c.do("GET", "/v1/images/"+id, alice, nil); r.status != 200 || r.json(t)["id"] != id {
			t.Errorf("GET own image = %d %s", r.status, r.body)
		}
		for _, m := range []string{"GET", "DELETE"} {
			if r := c.do(m, "/v1/images/"+id, bob, nil); r.status != 404 || r.errorField(t, "code") != "not_found" {
				t.Errorf("%s alice's image as bob = %d %s, want 404", m, r.status, r.body)
			}
		}
		if r := c.do("GET", "/v1/images/"+id, alice, nil); r.status != 200 {
			t.Errorf("alice's image gone after bob's DELETE: %d", r.status)
		}
		for _, bad := range []string{"nope", "..%2f..%2fetc", strings.Repeat("a", 26)} {
			if r := c.do("GET", "/v1/images/"+bad, alice, nil); r.status != 404 {
				t.Errorf("GET /v1/images/%s = %d, want 404", bad, r.status)
			}
		}
	})

	t.Run("pagination", func(t *testing.T) {
		r := c.do("GET", "/v1/images?limit=1", alice, nil)
		m := r.json(t)
		cur, _ := m["next_cursor"].(string)
		if cur == "" {
			t.Fatalf("no next_cursor with limit=1 and 2 images: %s", r.body)
		}
		r2 := c.do("GET", "/v1/images?limit=1&cursor="+cur, alice, nil).json(t)
		if got := r2["images"].([]any)[0].(map[string]any)["id"]; got != id {
			t.Errorf("second page = %v, want %s", got, id)
		}
		if r2["next_cursor"] != nil {
			t.Errorf("last page has next_cursor %v", r2["next_cursor"])
		}
		if r := c.do("GET", "/v1/images?limit=1&cursor="+cur, bob, nil); r.status != 400 || r.errorField(t, "param") != "cursor" {
			t.Errorf("alice's cursor used by bob = %d %s, want 400 param cursor", r.status, r.body)
		}
		tampered := cur[:len(cur)-2] + "AA"
		if r := c.do("GET", "/v1/images?cursor="+tampered, alice, nil); r.status != 400 {
			t.Errorf("tampered cursor = %d, want 400", r.status)
		}
	})

	t.Run("thumbnail is made in the background", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			m := c.do("GET", "/v1/images/"+id, alice, nil).json(t)
			if u, _ := m["thumbnail_url"].(string); u != "" {
				if b := c.fetch(u); len(b) < 100 || b[0] != 0xFF || b[1] != 0xD8 {
					t.Errorf("thumbnail is not a JPEG")
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("no thumbnail_url after 10 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("delete removes record, image and thumbnail", func(t *testing.T) {
		m := c.do("GET", "/v1/images/"+id, alice, nil).json(t)
		if r := c.do("DELETE", "/v1/images/"+id, alice, nil); r.status != 204 {
			t.Fatalf("DELETE = %d %s, want 204", r.status, r.body)
		}
		if r := c.do("GET", "/v1/images/"+id, alice, nil); r.status != 404 {
			t.Errorf("GET after DELETE = %d, want 404", r.status)
		}
		for _, u := range []string{m["url"].(string), m["thumbnail_url"].(string)} {
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("GET %s after DELETE = %d, want 404", u, resp.StatusCode)
			}
		}
		files, _ := filepath.Glob(filepath.Join(s.data, "images", id+"*"))
		if len(files) != 0 {
			t.Errorf("files left after DELETE: %v", files)
		}
	})

	t.Run("models", func(t *testing.T) {
		m := c.do("GET", "/v1/models", alice, nil).json(t)
		data, _ := m["data"].([]any)
		if m["object"] != "list" || len(data) != 1 {
			t.Fatalf("GET /v1/models = %v, want OpenAI's list shape with one model", m)
		}
		if e := data[0].(map[string]any); e["id"] != "offline" || e["default"] != true {
			t.Errorf("GET /v1/models entry = %v, want offline, the default", e)
		}
	})
}

func TestBadInput(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--user-rate=0", "--user-concurrency=0")
	c := &apiClient{t: t, base: s.url}
	before := imageFiles(t, s.data)
	long := strings.Repeat("x", 2001)
	for _, tc := range []struct {
		name  string
		body  any
		param string
		code  string
		want  int
	}{
		{"no prompt", map[string]any{}, "prompt", "invalid_request", 400},
		{"blank prompt", map[string]any{"prompt": "   "}, "prompt", "invalid_request", 400},
		{"prompt too long", map[string]any{"prompt": long}, "prompt", "invalid_request", 400},
		{"prompt not a string", map[string]any{"prompt": 5}, "prompt", "invalid_request", 400},
		{"negative prompt too long", map[string]any{"prompt": "p", "negative_prompt": long}, "negative_prompt", "invalid_request", 400},
		{"unknown model", map[string]any{"prompt": "p", "model": "dall-e-9"}, "model", "invalid_request", 400},
		{"width off step", map[string]any{"prompt": "p", "width": 300, "height": 256}, "width", "invalid_request", 400},
		{"height too big", map[string]any{"prompt": "p", "width": 256, "height": 4096}, "height", "invalid_request", 400},
		{"width without height", map[string]any{"prompt": "p", "width": 256}, "height", "invalid_request", 400},
		{"negative width", map[string]any{"prompt": "p", "width": -256, "height": 256}, "width", "invalid_request", 400},
		{"bad aspect ratio", map[string]any{"prompt": "p", "aspect_ratio": "wide"}, "aspect_ratio", "invalid_request", 400},
		{"n too big", map[string]any{"prompt": "p", "n": 9}, "n", "invalid_request", 400},
		{"n negative", map[string]any{"prompt": "p", "n": -1}, "n", "invalid_request", 400},
		{"seed too big", map[string]any{"prompt": "p", "seed": 1 << 40}, "seed", "invalid_request", 400},
		{"seed negative", map[string]any{"prompt": "p", "seed": -1}, "seed", "invalid_request", 400},
		{"seed a string", map[string]any{"prompt": "p", "seed": "7"}, "seed", "invalid_request", 400},
		{"cfg_scale not accepted", map[string]any{"prompt": "p", "cfg_scale": 7}, "cfg_scale", "invalid_request", 400},
		{"unknown style", map[string]any{"prompt": "p", "style": "baroque"}, "style", "invalid_request", 400},
		{"quality not accepted", map[string]any{"prompt": "p", "quality": "premium"}, "quality", "invalid_request", 400},
		{"bad output format", map[string]any{"prompt": "p", "output_format": "gif"}, "output_format", "invalid_request", 400},
		{"unknown field", map[string]any{"prompt": "p", "colour": "red"}, "colour", "invalid_request", 400},
		{"not JSON", "{prompt", "", "invalid_request", 400},
		{"two objects", `{"prompt":"a"} {"prompt":"b"}`, "", "invalid_request", 400},
		{"array", `[1]`, "", "invalid_request", 400},
		{"empty body", "", "", "invalid_request", 400},
		{"too large", `{"prompt":"` + strings.Repeat("a", 70<<10) + `"}`, "", "payload_too_large", 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", "/v1/images", s.key, tc.body)
			if r.status != tc.want || r.errorField(t, "code") != tc.code || r.errorField(t, "param") != tc.param ||
				r.errorField(t, "type") != "invalid_request_error" {
				t.Errorf("POST %s = %d %s, want %d %s param %q type invalid_request_error", tc.name, r.status, r.body, tc.want, tc.code, tc.param)
			}
			if r.errorField(t, "message") == "" {
				t.Errorf("error without a message: %s", r.body)
			}
		})
	}
	t.Run("wrong content type", func(t *testing.T) {
		r := c.do("POST", "/v1/images", s.key, nil, "Content-Type", "text/plain")
		if r.status != 415 {
			t.Errorf("text/plain body = %d, want 415", r.status)
		}
	})
	t.Run("bad limit", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=%%%"} {
			if r := c.do("GET", "/v1/images?"+q, s.key, nil); r.status != 400 {
				t.Errorf("GET /v1/images?%s = %d, want 400", q, r.status)
			}
		}
	})
	if after := imageFiles(t, s.data); after != before {
		t.Errorf("bad input wrote files: %d before, %d after", before, after)
	}
	if r := c.do("GET", "/v1/images", s.key, nil); len(r.json(t)["images"].([]any)) != 0 {
		t.Errorf("bad input wrote records: %s", r.body)
	}
}

func imageFiles(t *testing.T, data string) int {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(data, "images"))
	return len(entries)
}

func TestIdempotency(t *testing.T) {
	s := startServerOn(t, t.TempDir())
	c := &apiClient{t: t, base: s.url}
	body := small("idempotent otters")
	first := c.generate(s.key, body, "Idempotency-Key", "k-1")
	r := c.do("POST", "/v1/images", s.key, body, "Idempotency-Key", "k-1")
	if r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %d (replayed %q) %s", r.status, r.header.Get("Idempotent-Replayed"), r.body)
	}
	var again struct{ Images []map[string]any }
	_ = json.Unmarshal(r.body, &again)
	if again.Images[0]["id"] != first[0]["id"] {
		t.Errorf("replay answered image %v, want %v", again.Images[0]["id"], first[0]["id"])
	}
	list := c.do("GET", "/v1/images", s.key, nil).json(t)["images"].([]any)
	if len(list) != 1 {
		t.Errorf("%d images after a replay, want 1: the model ran twice", len(list))
	}
	if got := metricValue(t, s.url, `easel_images_stored_total{model="offline"}`); got != 1 {
		t.Errorf("images stored = %v, want 1", got)
	}
	other := small("a different request")
	r = c.do("POST", "/v1/images", s.key, other, "Idempotency-Key", "k-1")
	if r.status != 422 || r.errorField(t, "code") != "idempotency_mismatch" {
		t.Errorf("same key, other body = %d %s, want 422 idempotency_mismatch", r.status, r.body)
	}
	// Keys are per user: another user's identical key is a new request.
	bob := createKey(t, s.data, "bob")
	if imgs := c.generate(bob, body, "Idempotency-Key", "k-1"); imgs[0]["id"] == first[0]["id"] {
		t.Errorf("bob got alice's idempotent answer")
	}
}

func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

func TestLimits(t *testing.T) {
	t.Run("per-user rate gives 429 with Retry-After and RateLimit headers", func(t *testing.T) {
		s := startServerOn(t, t.TempDir(), "--user-rate=1", "--user-burst=2")
		c := &apiClient{t: t, base: s.url}
		for i := range 2 {
			r := c.do("POST", "/v1/images", s.key, small(fmt.Sprint("burst ", i)))
			// The rate (1 per minute), not the burst (draft-ietf-httpapi-ratelimit-headers-06).
			if r.status != 201 || r.header.Get("RateLimit-Limit") != "1" || r.header.Get("RateLimit-Policy") != "1;w=60;burst=2" {
				t.Fatalf("request %d = %d (RateLimit-Limit %q, RateLimit-Policy %q), want 201, 1 and 1;w=60;burst=2",
					i, r.status, r.header.Get("RateLimit-Limit"), r.header.Get("RateLimit-Policy"))
			}
		}
		r := c.do("POST", "/v1/images", s.key, small("one too many"))
		if r.status != 429 || r.errorField(t, "code") != "rate_limited" || r.header.Get("Retry-After") == "" {
			t.Fatalf("third request = %d %s Retry-After %q, want 429 rate_limited with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
		}
		if r.header.Get("RateLimit-Remaining") != "0" {
			t.Errorf("RateLimit-Remaining = %q, want 0", r.header.Get("RateLimit-Remaining"))
		}
		if got := metricValue(t, s.url, `easel_rejections_total{reason="rate"}`); got != 1 {
			t.Errorf("rate rejections = %v, want 1", got)
		}
	})
	t.Run("per-user concurrency and instance in-flight limits under a burst", func(t *testing.T) {
		s := startServerOn(t, t.TempDir(), "--user-rate=0", "--user-concurrency=1", "--max-inflight=2")
		c := &apiClient{t: t, base: s.url}
		// Large images keep each generation busy long enough for the burst to overlap.
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				r := c.do("POST", "/v1/images", s.key, map[string]any{"prompt": fmt.Sprint("burst ", i), "width": 2048, "height": 2048})
				if r.status != 201 && r.header.Get("Retry-After") == "" {
					t.Errorf("status %d without Retry-After: %s", r.status, r.body)
				}
				mu.Lock()
				counts[r.status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if counts[201] == 0 || counts[429]+counts[503] == 0 || counts[201]+counts[429]+counts[503] != 8 {
			t.Errorf("burst statuses = %v, want some 201 and some 429/503 only", counts)
		}
	})
	t.Run("daily quota", func(t *testing.T) {
		s := startServerOn(t, t.TempDir(), "--user-rate=0", "--daily-quota=2")
		c := &apiClient{t: t, base: s.url}
		c.generate(s.key, map[string]any{"prompt": "q", "width": 256, "height": 256, "n": 2})
		r := c.do("POST", "/v1/images", s.key, small("over quota"))
		if r.status != 429 || r.errorField(t, "code") != "quota_exceeded" || r.header.Get("Retry-After") == "" {
			t.Errorf("over quota = %d %s, want 429 quota_exceeded with Retry-After", r.status, r.body)
		}
	})
}

func TestShutdownExitsCleanly(t *testing.T) {
	s := startServerOn(t, t.TempDir())
	c := &apiClient{t: t, base: s.url}
	if r := c.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("/readyz = %d %s", r.status, r.body)
	}
	// A generation in flight when the signal comes still completes.
	done := make(chan int, 1)
	go func() {
		r := c.do("POST", "/v1/images", s.key, map[string]any{"prompt": "last one", "width": 2048, "height": 2048})
		done <- r.status
	}()
	for deadline := time.Now().Add(10 * time.Second); metricValue(t, s.url, "easel_generations_in_flight") < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the generation never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v after the signal, want nil (exit 0)", err)
	}
	if st := <-done; st != 201 {
		t.Errorf("in-flight generation during shutdown = %d, want 201", st)
	}
}

func TestProductionLogsHideKeysAndPrompts(t *testing.T) {
	data := t.TempDir()
	s := startServerOn(t, data, "--env", "production", "--log-level", "debug")
	if s.key != "" {
		t.Fatal("production mode printed a bootstrap key")
	}
	key := createKey(t, data, "carol")
	c := &apiClient{t: t, base: s.url}
	prompt := "a very private prompt " + easelID()
	c.generate(key, map[string]any{"prompt": prompt, "width": 256, "height": 256})
	c.do("POST", "/v1/images", key, map[string]any{"prompt": prompt, "seed": -1})
	c.do("GET", "/v1/images", key+"x", nil)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("no request logs at debug level:\n%s", logs)
	}
	for _, secret := range []string{prompt, key, key[len("easel_"):]} {
		if strings.Contains(logs, secret) {
			t.Errorf("production logs contain %.20q...", secret)
		}
	}
}

func easelID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
