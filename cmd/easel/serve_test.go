package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDrain: on SIGTERM, /readyz answers 503 for --drain-delay while every other
// request is still served; then the listener closes and serve returns nil.
func TestDrain(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--drain-delay", "5s", "--thumbnails=false")
	c := &apiClient{t, s.url}
	if r := c.do("GET", "/readyz", "", nil); r.status != http.StatusOK {
		t.Fatalf("GET /readyz = %d before the drain", r.status)
	}
	done := make(chan error, 1)
	go func() { done <- s.stop() }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz while draining: %v (the listener closed before the drain delay)", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz = %d after SIGTERM, want 503", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := c.do("GET", "/healthz", "", nil); r.status != http.StatusOK {
		t.Errorf("GET /healthz while draining = %d, want 200", r.status)
	}
	c.generate(s.key, small("still served while draining"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after the drain, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after the drain delay")
	}
	if resp, err := http.Get(s.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /healthz after the drain = %d, want a refused connection", resp.StatusCode)
	}
}

// TestDrainWithoutProbe: when nothing ever asked /readyz (a laptop), there is nobody
// to tell, and a stop does not wait for the drain delay.
func TestDrainWithoutProbe(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--drain-delay", "10m")
	start := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v, want nil", err)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("stop took %s with nothing probing /readyz, want no drain delay", took)
	}
}

// TestSignInLink: the first start prints a link built from --public-url (the page is
// the public URL without images/), where the data lives, and how to make keys for it.
func TestSignInLink(t *testing.T) {
	data := t.TempDir()
	s := startServerOn(t, data, "--public-url", "https://site.example.com/images/")
	out := s.out.String()
	abs, _ := filepath.Abs(data)
	for _, want := range []string{
		"public address: https://site.example.com/\n",
		"catalog: sqlite://" + filepath.Join(abs, "easel.db") + "\n",
		"images:  file://" + filepath.Join(abs, "images") + "\n",
		"Stop it with Ctrl-C. Make API keys in this catalog with: easel keys create --user NAME --data " + abs + "\n",
		"  https://site.example.com/#key=" + s.key + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("serve printed:\n%s\nwant a line %q", out, want)
		}
	}
	for _, tc := range []struct{ public, want string }{
		{"https://site.example.com/images/", "https://site.example.com"},
		{"https://site.example.com/images", "https://site.example.com"},
		{"https://site.example.com/easel/images/", "https://site.example.com/easel"},
		{"https://cdn.example.com/", "https://cdn.example.com"},
		{"", "http://127.0.0.1:8080"},
	} {
		if got := siteURL(tc.public, "http://127.0.0.1:8080"); got != tc.want {
			t.Errorf("siteURL(%q) = %q, want %q", tc.public, got, tc.want)
		}
	}
}

// TestSignInAfterKeysCreate: when keys were made before the first start, serve makes
// no admin key nobody asked for, and says how to sign in with the key one holds.
func TestSignInAfterKeysCreate(t *testing.T) {
	data := t.TempDir()
	if _, stderr, err := runCmd(t, "keys", "create", "--init", "--user", "me", "--data", data); err != nil {
		t.Fatalf("keys create --init: %v\n%s", err, stderr)
	}
	s := startServerOn(t, data)
	if s.key != "" || !strings.Contains(s.out.String(), "Sign in at "+s.url+"/ with an API key; "+s.url+"/#key=<KEY> signs in directly.") {
		t.Errorf("serve with a key already made printed:\n%s", s.out.String())
	}
	stdout, _, _ := runCmd(t, "keys", "list", "--data", data)
	if strings.Contains(stdout, "admin") {
		t.Errorf("serve made an admin key although keys existed:\n%s", stdout)
	}
}
