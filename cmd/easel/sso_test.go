package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
)

// Single sign-on through the real `easel serve` wiring, against mockoidc, an OpenID
// Connect provider on loopback (its authorization endpoint signs the queued user in
// at once). The token checks themselves (expired, forged, wrong audience or issuer,
// nonce) are in package oidcauth's tests.

func startOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

func oidcFlags(m *mockoidc.MockOIDC, extra ...string) []string {
	return append([]string{"--oidc-issuer", m.Issuer(), "--oidc-client-id", m.ClientID, "--oidc-client-secret", m.ClientSecret}, extra...)
}

// browser is an HTTP client that keeps easel's cookies as a browser would and
// follows redirects by hand, so each answer can be looked at.
type ssoBrowser struct {
	t       *testing.T
	base    string
	site    string                  // the public URL the provider sends the browser back to, when not base
	cookies map[string]*http.Cookie // easel's, by name
	client  *http.Client
}

func newSSOBrowser(t *testing.T, base string) *ssoBrowser {
	return &ssoBrowser{t: t, base: base, cookies: map[string]*http.Cookie{},
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn goes to /auth/login and follows the redirects through the provider back
// to easel; it returns easel's last answer (the callback's) and its body.
func (b *ssoBrowser) signIn() (*http.Response, string) {
	b.t.Helper()
	u := b.base + "/auth/login"
	for range 5 {
		req, _ := http.NewRequest("GET", u, nil)
		mine := strings.HasPrefix(u, b.base+"/")
		if mine {
			for _, c := range b.cookies {
				req.AddCookie(c)
			}
		}
		res, err := b.client.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if mine {
			for _, c := range res.Cookies() {
				if c.MaxAge < 0 {
					delete(b.cookies, c.Name)
				} else {
					b.cookies[c.Name] = c
				}
			}
		}
		if strings.HasPrefix(u, b.base+"/auth/callback") {
			return res, string(body)
		}
		if res.StatusCode/100 != 3 {
			b.t.Fatalf("GET %s = %d %s, want a redirect", u, res.StatusCode, body)
		}
		next, _ := url.Parse(res.Header.Get("Location"))
		u = res.Request.URL.ResolveReference(next).String()
		if b.site != "" && strings.HasPrefix(u, b.site+"/") {
			u = b.base + strings.TrimPrefix(u, b.site) // the public site is this server
		}
	}
	b.t.Fatal("too many redirects")
	return nil, ""
}

// call makes an API request with easel's cookies and the given headers.
func (b *ssoBrowser) call(method, path string, body any, hdr ...string) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return res.StatusCode, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestSSOSessionAndKeys(t *testing.T) {
	m := startOIDC(t)
	srv := startServerOn(t, t.TempDir(), oidcFlags(m, "--log-level", "debug", "--oidc-allowed-domains", "example.com", "--max-user-keys", "2")...)
	api := &apiClient{t: t, base: srv.url}
	b := newSSOBrowser(t, srv.url)
	if want := "Single sign-on: people sign in at " + srv.url + "/ through " + m.Issuer() + " (its redirect URL: " + srv.url + "/auth/callback)."; !strings.Contains(srv.out.String(), want) {
		t.Errorf("serve's start message does not say %q:\n%s", want, srv.out.String())
	}

	// Signed out, the page learns how to sign in.
	st, sess := b.call("GET", "/v1/session", nil)
	sso, _ := sess["sso"].(map[string]any)
	if st != 200 || sso["sign_in_url"] != "/auth/login" || sso["issuer"] != m.Issuer() || sess["user"] != nil {
		t.Fatalf("GET /v1/session signed out = %d %v", st, sess)
	}

	res, body := b.signIn()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("callback = %d %q %s, want 303 to /", res.StatusCode, res.Header.Get("Location"), body)
	}
	c := b.cookies["easel_session"]
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, not Secure on a loopback http site", c)
	}
	st, sess = b.call("GET", "/v1/session", nil)
	user, _ := sess["user"].(string)
	csrf, _ := sess["csrf_token"].(string)
	if st != 200 || !strings.HasPrefix(user, "sso-") || csrf == "" {
		t.Fatalf("GET /v1/session signed in = %d %v", st, sess)
	}
	if st, me := b.call("GET", "/v1/me", nil); st != 200 || me["user"] != user {
		t.Fatalf("GET /v1/me with the cookie = %d %v, want %s", st, me, user)
	}

	// The same person signing in again is the same user.
	b2 := newSSOBrowser(t, srv.url)
	b2.signIn()
	if _, s2 := b2.call("GET", "/v1/session", nil); s2["user"] != user {
		t.Errorf("second sign-in user = %v, want %s", s2["user"], user)
	}

	gen := map[string]any{"prompt": "a lighthouse at dusk"}
	t.Run("CSRF", func(t *testing.T) {
		if st, e := b.call("POST", "/v1/images", gen); st != 403 || errCode(e) != "forbidden" {
			t.Errorf("POST /v1/images with the cookie and no CSRF token = %d %v, want 403", st, e)
		}
		if st, e := b.call("POST", "/v1/images", gen, "X-CSRF-Token", "wrong"); st != 403 {
			t.Errorf("POST /v1/images with a wrong CSRF token = %d %v, want 403", st, e)
		}
		if st, e := b.call("POST", "/v1/keys", nil); st != 403 {
			t.Errorf("POST /v1/keys with no CSRF token = %d %v, want 403", st, e)
		}
		if st, e := b.call("DELETE", "/v1/session", nil); st != 403 {
			t.Errorf("DELETE /v1/session with no CSRF token = %d %v, want 403", st, e)
		}
		if st, e := b.call("POST", "/v1/images", gen, "X-CSRF-Token", csrf); st != 201 {
			t.Errorf("POST /v1/images with the CSRF token = %d %v, want 201", st, e)
		}
		// An Authorization header is the only credential looked at when present.
		if st, e := b.call("GET", "/v1/me", nil, "Authorization", "Bearer easel_not-a-key"); st != 401 {
			t.Errorf("GET /v1/me with the cookie and a bad key = %d %v, want 401", st, e)
		}
	})

	var keyID, key string
	t.Run("Keys", func(t *testing.T) {
		st, k := b.call("POST", "/v1/keys", nil, "X-CSRF-Token", csrf)
		keyID, _ = k["id"].(string)
		key, _ = k["key"].(string)
		if st != 201 || keyID == "" || !strings.HasPrefix(key, "easel_") {
			t.Fatalf("POST /v1/keys = %d %v", st, k)
		}
		// A program uses it, no cookie, no CSRF token.
		if r := api.do("GET", "/v1/me", key, nil); r.status != 200 || r.json(t)["user"] != user {
			t.Fatalf("GET /v1/me with the new key = %d %s", r.status, r.body)
		}
		if r := api.do("POST", "/v1/images", key, gen); r.status != 201 {
			t.Errorf("POST /v1/images with the new key = %d %s, want 201", r.status, r.body)
		}
		st, list := b.call("GET", "/v1/keys", nil)
		data, _ := list["data"].([]any)
		if st != 200 || len(data) != 1 || data[0].(map[string]any)["id"] != keyID || data[0].(map[string]any)["key"] != nil {
			t.Fatalf("GET /v1/keys = %d %v, want the one key, without its secret", st, list)
		}
		// A key makes no key, not even its own user's.
		if r := api.do("POST", "/v1/keys", key, nil); r.status != 403 {
			t.Errorf("POST /v1/keys with an API key = %d %s, want 403", r.status, r.body)
		}
		// Another user neither sees nor revokes it.
		if r := api.do("GET", "/v1/keys", srv.key, nil); r.status != 200 || strings.Contains(string(r.body), keyID) {
			t.Errorf("admin's GET /v1/keys = %d %s, want 200 without %s", r.status, r.body, keyID)
		}
		if r := api.do("DELETE", "/v1/keys/"+keyID, srv.key, nil); r.status != 404 {
			t.Errorf("admin's DELETE /v1/keys/%s = %d %s, want 404", keyID, r.status, r.body)
		}
		if r := api.do("GET", "/v1/me", key, nil); r.status != 200 {
			t.Fatalf("the key after another user's revoke = %d, want 200", r.status)
		}
		if st, e := b.call("DELETE", "/v1/keys/"+keyID, nil); st != 403 {
			t.Errorf("DELETE /v1/keys without the CSRF token = %d %v, want 403", st, e)
		}
		if st, e := b.call("DELETE", "/v1/keys/nosuchkeyxxx", nil, "X-CSRF-Token", csrf); st != 404 {
			t.Errorf("DELETE /v1/keys/nosuchkeyxxx = %d %v, want 404", st, e)
		}
		if st, e := b.call("DELETE", "/v1/keys/"+keyID, nil, "X-CSRF-Token", csrf); st != 204 {
			t.Fatalf("DELETE /v1/keys/%s = %d %v, want 204", keyID, st, e)
		}
		if r := api.do("GET", "/v1/me", key, nil); r.status != 401 {
			t.Errorf("the revoked key = %d, want 401 at once", r.status)
		}
		_, list = b.call("GET", "/v1/keys", nil)
		if d := list["data"].([]any); len(d) != 1 || d[0].(map[string]any)["revoked_at"] == nil {
			t.Errorf("GET /v1/keys after revoking = %v, want the key marked revoked", list)
		}
	})

	t.Run("KeyLimit", func(t *testing.T) {
		// One key is revoked already: it does not count.
		if st, e := b.call("POST", "/v1/keys", map[string]any{"name": "x"}, "X-CSRF-Token", csrf); st != 400 {
			t.Errorf("POST /v1/keys with a body = %d %v, want 400", st, e)
		}
		var ids []string
		for i := range 2 {
			st, k := b.call("POST", "/v1/keys", nil, "X-CSRF-Token", csrf)
			if st != 201 {
				t.Fatalf("POST /v1/keys #%d = %d %v, want 201", i+1, st, k)
			}
			ids = append(ids, k["id"].(string))
		}
		if st, e := b.call("POST", "/v1/keys", nil, "X-CSRF-Token", csrf); st != 409 || errCode(e) != "conflict" {
			t.Fatalf("POST /v1/keys beyond --max-user-keys 2 = %d %v, want 409", st, e)
		}
		if st, _ := b.call("DELETE", "/v1/keys/"+ids[0], nil, "X-CSRF-Token", csrf); st != 204 {
			t.Fatalf("DELETE /v1/keys/%s = %d", ids[0], st)
		}
		if st, e := b.call("POST", "/v1/keys", nil, "X-CSRF-Token", csrf); st != 201 {
			t.Errorf("POST /v1/keys after revoking one = %d %v, want 201", st, e)
		}
	})

	t.Run("SignOut", func(t *testing.T) {
		if st, e := b.call("DELETE", "/v1/session", nil, "X-CSRF-Token", csrf); st != 204 {
			t.Fatalf("DELETE /v1/session = %d %v, want 204", st, e)
		}
		// call keeps the cookie (it applies no Set-Cookie), as a stolen copy would be
		// kept: the session is gone from the catalog, so it no longer works.
		if st, _ := b.call("GET", "/v1/me", nil); st != 401 {
			t.Errorf("GET /v1/me with the signed-out cookie = %d, want 401", st)
		}
		if _, s := b2.call("GET", "/v1/session", nil); s["user"] != user {
			t.Errorf("the other browser's session after this one signed out: %v, want still signed in", s)
		}
	})

	t.Run("AllowList", func(t *testing.T) {
		m.QueueUser(&mockoidc.MockUser{Subject: "outsider", Email: "eve@elsewhere.example", EmailVerified: true})
		b3 := newSSOBrowser(t, srv.url)
		res, body := b3.signIn()
		if res.StatusCode != 403 || !strings.Contains(body, "forbidden") || b3.cookies["easel_session"] != nil {
			t.Errorf("sign-in from outside the allowed domains = %d %s (cookies %v), want 403 and no session", res.StatusCode, body, b3.cookies)
		}
	})

	t.Run("BadState", func(t *testing.T) {
		b4 := newSSOBrowser(t, srv.url)
		req, _ := http.NewRequest("GET", srv.url+"/auth/callback?code=x&state=y", nil)
		res, err := b4.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("callback with no flow cookie = %d, want 400", res.StatusCode)
		}
		// A browser goes back to the page, which shows the reason on its sign-in card.
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		b4.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err = b4.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/" || !strings.HasPrefix(loc.Fragment, "signin_error=") {
			t.Errorf("a browser's refused callback = %d Location %q, want 303 to /#signin_error=...", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("NothingSecretLogged", func(t *testing.T) {
		logs := srv.logs.String()
		for name, secret := range map[string]string{"client secret": m.ClientSecret, "API key": key, "session id": cookieValue(c), "CSRF token": csrf} {
			if secret != "" && strings.Contains(logs, secret) {
				t.Errorf("the logs hold the %s", name)
			}
		}
		if !strings.Contains(logs, "/v1/keys") {
			t.Errorf("the logs do not show the key requests at all; is the log level right?\n%s", logs)
		}
	})
}

func cookieValue(c *http.Cookie) string {
	if c == nil {
		return ""
	}
	return c.Value
}

func TestSSOFlagsChecked(t *testing.T) {
	m := startOIDC(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--oidc-issuer", m.Issuer()}, "needs --oidc-client-id"},
		{[]string{"--oidc-client-id", "x"}, "need --oidc-issuer"},
		{[]string{"--oidc-issuer", "http://idp.example.com/", "--oidc-client-id", "x"}, "want an https URL"},
		{oidcFlags(m, "--public-url", "http://site.example.com/images/"), "needs an https site"},
		{oidcFlags(m, "--session-lifetime", "0"), "must be positive"},
	} {
		err := run(t.Context(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %v = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// TestSSOSecureCookies: on an https site (--public-url https://...) the cookies are
// Secure and carry the __Host- prefix; the test plays the CDN in front of the server.
func TestSSOSecureCookies(t *testing.T) {
	m := startOIDC(t)
	const site = "https://easel.example"
	srv := startServerOn(t, t.TempDir(), oidcFlags(m, "--public-url", site+"/images/")...)
	b := newSSOBrowser(t, srv.url)
	b.site = site
	req, _ := http.NewRequest("GET", srv.url+"/auth/login", nil)
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	auth, _ := url.Parse(res.Header.Get("Location"))
	if got := auth.Query().Get("redirect_uri"); got != site+"/auth/callback" {
		t.Errorf("redirect_uri = %q, want %s/auth/callback", got, site)
	}
	for _, c := range res.Cookies() {
		if c.Name != "__Host-easel_oidc" || !c.Secure || !c.HttpOnly || c.Path != "/" {
			t.Errorf("flow cookie = %+v, want __Host-easel_oidc, Secure, HttpOnly, Path=/", c)
		}
	}
	res, body := b.signIn()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback = %d %s", res.StatusCode, body)
	}
	c := b.cookies["__Host-easel_session"]
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("session cookie = %+v (all: %v), want __Host-easel_session, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain", c, b.cookies)
	}
	if st, me := b.call("GET", "/v1/me", nil); st != 200 {
		t.Errorf("GET /v1/me with the secure cookie = %d %v", st, me)
	}
}

// TestSSOSecretNotInUsage: the client secret's variable is never printed by -h.
func TestSSOSecretNotInUsage(t *testing.T) {
	secret := "s" + strings.Repeat("x", 8) + "-generated-in-test"
	t.Setenv("EASEL_OIDC_CLIENT_SECRET", secret)
	var out bytes.Buffer
	_ = run(t.Context(), []string{"serve", "-h"}, &out, io.Discard)
	if !strings.Contains(out.String(), "--oidc-client-secret") || strings.Contains(out.String(), secret) {
		t.Errorf("serve -h: want --oidc-client-secret listed and its secret nowhere:\n%s", out.String())
	}
}

// TestSSOSessionExpires: a session ends at --session-lifetime, whatever the cookie.
func TestSSOSessionExpires(t *testing.T) {
	m := startOIDC(t)
	srv := startServerOn(t, t.TempDir(), oidcFlags(m, "--session-lifetime", "1s", "--oidc-display-name", "Corp Login")...)
	b := newSSOBrowser(t, srv.url)
	if _, s := b.call("GET", "/v1/session", nil); s["sso"].(map[string]any)["name"] != "Corp Login" {
		t.Errorf("GET /v1/session = %v, want the display name", s)
	}
	b.signIn()
	if c := b.cookies["easel_session"]; c == nil || c.MaxAge != 1 {
		t.Fatalf("session cookie = %+v, want Max-Age 1", c)
	}
	if st, _ := b.call("GET", "/v1/me", nil); st != 200 {
		t.Fatalf("GET /v1/me at once = %d, want 200", st)
	}
	time.Sleep(1100 * time.Millisecond)
	if st, e := b.call("GET", "/v1/me", nil); st != 401 {
		t.Errorf("GET /v1/me after the lifetime = %d %v, want 401", st, e)
	}
	if st, s := b.call("GET", "/v1/session", nil); st != 200 || s["user"] != nil {
		t.Errorf("GET /v1/session after the lifetime = %d %v, want no user", st, s)
	}
}
