package main

import (
	"encoding/base64"
	"testing"

	"github.com/easelhq/easel/edittest"
)

// TestEditWithSession: with single sign-on, an edit is made with the session cookie and
// its CSRF token (as the page sends it); without the token it is refused and writes
// nothing.
func TestEditWithSession(t *testing.T) {
	m := startOIDC(t)
	srv := startServerOn(t, t.TempDir(), oidcFlags(m, "--oidc-allowed-domains", "example.com")...)
	b := newSSOBrowser(t, srv.url)
	b.signIn()
	_, sess := b.call("GET", "/v1/session", nil)
	csrf, _ := sess["csrf_token"].(string)
	if csrf == "" {
		t.Fatalf("GET /v1/session = %v", sess)
	}
	f := edittest.NewFixtures(t)
	body := map[string]any{"operation": "remove-background", "image": map[string]string{"b64": base64.StdEncoding.EncodeToString(f.Source)}}
	if st, e := b.call("POST", "/v1/edits", body); st != 403 || errCode(e) != "forbidden" {
		t.Errorf("POST /v1/edits with the cookie and no CSRF token = %d %v, want 403", st, e)
	}
	if st, page := b.call("GET", "/v1/images", nil); st != 200 || len(page["images"].([]any)) != 0 {
		t.Errorf("gallery after a refused edit = %d %v", st, page)
	}
	st, res := b.call("POST", "/v1/edits", body, "X-CSRF-Token", csrf)
	if st != 201 {
		t.Fatalf("POST /v1/edits with the CSRF token = %d %v", st, res)
	}
	img := res["images"].([]any)[0].(map[string]any)
	if img["operation"] != "remove-background" || img["source_image_id"] == nil {
		t.Errorf("result = %v", img)
	}
}
