package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"strings"
	"testing"
)

// OpenAI compatibility on the real wiring. The official SDKs themselves (Node openai,
// openai-go) run against the built binary in scripts/openai-sdk.

func TestOpenAIModels(t *testing.T) {
	s := startServerOn(t, t.TempDir())
	c := &apiClient{t: t, base: s.url}

	r := c.do("GET", "/v1/models", s.key, nil)
	var list struct {
		Object string           `json:"object"`
		Data   []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 || list.Object != "list" || len(list.Data) != 1 {
		t.Fatalf("GET /v1/models = %d %s, want 200 and OpenAI's list of one model", r.status, r.body)
	}
	m := list.Data[0]
	for field, want := range map[string]any{"id": "offline", "object": "model", "owned_by": "offline", "default": true} {
		if m[field] != want {
			t.Errorf("model %s = %v, want %v", field, m[field], want)
		}
	}
	if created, ok := m["created"].(float64); !ok || created <= 0 {
		t.Errorf("model created = %v, want a Unix time", m["created"])
	}
	// Easel's own description stays in each entry.
	for _, field := range []string{"name", "max_prompt_length", "max_images", "seed_max", "output_formats"} {
		if _, ok := m[field]; !ok {
			t.Errorf("model entry has no %q: %v", field, m)
		}
	}

	if r := c.do("GET", "/v1/models/offline", s.key, nil); r.status != 200 || r.json(t)["id"] != "offline" || r.json(t)["object"] != "model" {
		t.Errorf("GET /v1/models/offline = %d %s, want the model", r.status, r.body)
	}
	r = c.do("GET", "/v1/models/dall-e-3", s.key, nil)
	if r.status != 404 || r.errorField(t, "code") != "not_found" || r.errorField(t, "type") != "invalid_request_error" {
		t.Errorf("GET /v1/models/dall-e-3 = %d %s, want 404 not_found of type invalid_request_error", r.status, r.body)
	}
}

func TestOpenAIErrors(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--user-rate=0", "--user-concurrency=0")
	c := &apiClient{t: t, base: s.url}
	before := imageFiles(t, s.data)

	r := c.do("GET", "/v1/models", "easel_not-a-key", nil)
	if r.status != 401 || r.errorField(t, "type") != "authentication_error" || r.errorField(t, "code") != "unauthorized" {
		t.Errorf("bad key = %d %s, want 401 unauthorized of type authentication_error", r.status, r.body)
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		param string
	}{
		{"size off the model's steps", map[string]any{"prompt": "p", "size": "300x256"}, "size"},
		{"size too big", map[string]any{"prompt": "p", "size": "4096x4096"}, "size"},
		{"size not WxH", map[string]any{"prompt": "p", "size": "large"}, "size"},
		{"n too big", map[string]any{"prompt": "p", "n": 99}, "n"},
		{"no prompt", map[string]any{"size": "256x256"}, "prompt"},
		{"response_format", map[string]any{"prompt": "p", "response_format": "png"}, "response_format"},
		{"output_format webp", map[string]any{"prompt": "p", "output_format": "webp"}, "output_format"},
		{"output_compression", map[string]any{"prompt": "p", "output_compression": 101}, "output_compression"},
		{"partial_images", map[string]any{"prompt": "p", "partial_images": 9}, "partial_images"},
		{"unknown field", map[string]any{"prompt": "p", "colour": "red"}, "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", "/v1/images/generations", s.key, tc.body)
			if r.status != 400 || r.errorField(t, "param") != tc.param || r.errorField(t, "type") != "invalid_request_error" ||
				r.errorField(t, "code") != "invalid_request" || r.errorField(t, "message") == "" {
				t.Errorf("= %d %s, want 400 invalid_request, type invalid_request_error, param %q", r.status, r.body, tc.param)
			}
		})
	}
	if after := imageFiles(t, s.data); after != before {
		t.Errorf("bad requests wrote files: %d before, %d after", before, after)
	}
}

// openAIAnswer is POST /v1/images/generations's answer.
type openAIAnswer struct {
	Created      int64  `json:"created"`
	OutputFormat string `json:"output_format"`
	Size         string `json:"size"`
	Data         []struct {
		URL     string `json:"url"`
		B64JSON string `json:"b64_json"`
	} `json:"data"`
}

func TestOpenAIGenerations(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--user-rate=0", "--user-concurrency=0")
	c := &apiClient{t: t, base: s.url}
	post := func(t *testing.T, body map[string]any) openAIAnswer {
		t.Helper()
		r := c.do("POST", "/v1/images/generations", s.key, body)
		var a openAIAnswer
		if r.status != 200 || json.Unmarshal(r.body, &a) != nil || len(a.Data) == 0 || a.Created == 0 {
			t.Fatalf("POST /v1/images/generations %v = %d %.300s, want 200 with data", body, r.status, r.body)
		}
		return a
	}
	// checkB64 decodes an image and checks it is the stored one (its sha256 is in the gallery).
	checkB64 := func(t *testing.T, b64 string) {
		t.Helper()
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("b64_json does not decode: %v", err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != 256 {
			t.Fatalf("b64_json is not the 256 px PNG asked for: %v %v", cfg, err)
		}
		sum := sha256.Sum256(b)
		imgs := c.do("GET", "/v1/images?limit=100", s.key, nil).json(t)["images"].([]any)
		for _, img := range imgs {
			if img.(map[string]any)["sha256"] == hex.EncodeToString(sum[:]) {
				return
			}
		}
		t.Errorf("b64_json image (sha256 %x) is not a stored image", sum)
	}

	for _, tc := range []struct {
		name, model, format, want string
	}{
		{"gpt-image answers b64_json", "gpt-image-1", "", "b64_json"},
		{"gpt-image-1.5 answers b64_json", "gpt-image-1.5", "", "b64_json"},
		{"dall-e answers url", "dall-e-3", "", "url"},
		{"no model answers url", "", "", "url"},
		{"Easel's model answers url", "offline", "", "url"},
		{"response_format overrides gpt-image", "gpt-image-1", "url", "url"},
		{"response_format overrides dall-e", "dall-e-2", "b64_json", "b64_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"prompt": "a harbour at dawn", "size": "256x256"}
			if tc.model != "" {
				body["model"] = tc.model
			}
			if tc.format != "" {
				body["response_format"] = tc.format
			}
			a := post(t, body)
			d := a.Data[0]
			switch tc.want {
			case "b64_json":
				if d.URL != "" || d.B64JSON == "" {
					t.Fatalf("data[0] has url %q and %d b64 bytes, want b64_json only", d.URL, len(d.B64JSON))
				}
				checkB64(t, d.B64JSON)
			case "url":
				if d.B64JSON != "" || !strings.HasPrefix(d.URL, s.url+"/images/") {
					t.Fatalf("data[0] has url %q and %d b64 bytes, want a URL on %s/images/", d.URL, len(d.B64JSON), s.url)
				}
				if _, err := png.DecodeConfig(bytes.NewReader(c.fetch(d.URL))); err != nil {
					t.Errorf("GET %s: not a PNG: %v", d.URL, err)
				}
			}
			if a.OutputFormat != "png" || a.Size != "256x256" {
				t.Errorf("answer output_format %q size %q, want png 256x256", a.OutputFormat, a.Size)
			}
		})
	}

	t.Run("fields the SDKs send are accepted", func(t *testing.T) {
		a := post(t, map[string]any{
			"prompt": "a kite", "model": "gpt-image-1", "n": 2, "size": "256x256", "quality": "high",
			"output_format": "png", "output_compression": 80, "partial_images": 0, "background": "auto",
			"moderation": "low", "user": "user-1234", "safety_identifier": "hash-1", "style": "vivid",
			"stream": false, "response_format": nil,
		})
		if len(a.Data) != 2 {
			t.Fatalf("n=2 gave %d images", len(a.Data))
		}
		for _, d := range a.Data {
			checkB64(t, d.B64JSON)
		}
	})

	t.Run("stream answers server-sent events", func(t *testing.T) {
		r := c.do("POST", "/v1/images/generations", s.key, map[string]any{
			"prompt": "a kite", "model": "gpt-image-1", "size": "256x256", "stream": true, "partial_images": 2,
		})
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream = %d %s %.200s, want 200 text/event-stream", r.status, r.header.Get("Content-Type"), r.body)
		}
		var events []map[string]any
		sc := bufio.NewScanner(bytes.NewReader(r.body))
		sc.Buffer(nil, 8<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e map[string]any
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					t.Fatalf("event data is not JSON: %v", err)
				}
				events = append(events, e)
			}
		}
		if len(events) != 1 || events[0]["type"] != "image_generation.completed" {
			t.Fatalf("events = %d (%v), want one image_generation.completed", len(events), events)
		}
		checkB64(t, events[0]["b64_json"].(string))
	})

	t.Run("idempotent replay", func(t *testing.T) {
		body := map[string]any{"prompt": "a replayed kite", "size": "256x256", "response_format": "url"}
		r1 := c.do("POST", "/v1/images/generations", s.key, body, "Idempotency-Key", "oai-1")
		r2 := c.do("POST", "/v1/images/generations", s.key, body, "Idempotency-Key", "oai-1")
		if r1.status != 200 || r2.status != 200 || r2.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay = %d then %d (replayed %q), want 200 twice, the second replayed", r1.status, r2.status, r2.header.Get("Idempotent-Replayed"))
		}
	})
}
