package oidcauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/oidcauth"
)

// The flow against mockoidc, an OpenID Connect provider on loopback: the token
// endpoint can be made to answer with a rewritten ID token (re-signed by the
// provider's key with other claims, or by another key), to check that go-oidc's
// verification, as this package wires it, refuses what it must.

const redirectURL = "http://127.0.0.1:9/auth/callback" // never dialled: the test plays the browser

type provider struct {
	m *mockoidc.MockOIDC
	// rewrite, when set, changes the ID token the token endpoint answers with: it
	// gets the claims and returns the key to sign them with.
	mu      sync.Mutex
	rewrite func(claims jwt.MapClaims) *mockoidc.Keypair
}

func startProvider(t *testing.T) *provider {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{m: m}
	if err := m.AddMiddleware(p.tokenRewriter); err != nil {
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
	return p
}

func (p *provider) setRewrite(f func(jwt.MapClaims) *mockoidc.Keypair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrite = f
}

func (p *provider) tokenRewriter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		rewrite := p.rewrite
		p.mu.Unlock()
		if r.URL.Path != mockoidc.TokenEndpoint || rewrite == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(body["id_token"].(string), claims); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		kp := rewrite(claims)
		signed, err := kp.SignJWT(claims)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		body["id_token"] = signed
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
}

func newRP(t *testing.T, p *provider, mod func(*oidcauth.Config)) *oidcauth.Provider {
	t.Helper()
	cfg := oidcauth.Config{
		Issuer:       p.m.Issuer(),
		ClientID:     p.m.ClientID,
		ClientSecret: p.m.ClientSecret,
		RedirectURL:  redirectURL,
	}
	if mod != nil {
		mod(&cfg)
	}
	rp, err := oidcauth.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// flowOpts changes what the test's browser does between the two legs.
type flowOpts struct {
	authURL  func(u *url.URL) // changes the authorization request
	callback func(q url.Values)
	noCookie bool
}

// signIn plays the browser: Begin, the provider's authorization endpoint (which
// signs the queued user in at once), then Finish with the flow cookie.
func signIn(t *testing.T, rp *oidcauth.Provider, o flowOpts) (*oidcauth.Identity, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	rp.Begin(rec, httptest.NewRequest("GET", "/auth/login", nil))
	if rec.Code != http.StatusFound {
		t.Fatalf("Begin answered %d, want 302", rec.Code)
	}
	cookies := rec.Result().Cookies()
	for _, c := range cookies {
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
			t.Errorf("flow cookie %s: HttpOnly %v SameSite %v, want HttpOnly and Lax", c.Name, c.HttpOnly, c.SameSite)
		}
	}
	auth, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request %s lacks PKCE S256, state or nonce", auth)
	}
	if o.authURL != nil {
		o.authURL(auth)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(auth.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("authorization endpoint answered %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	bq := back.Query()
	if o.callback != nil {
		o.callback(bq)
		back.RawQuery = bq.Encode()
	}
	req := httptest.NewRequest("GET", back.String(), nil)
	if !o.noCookie {
		for _, c := range cookies {
			req.AddCookie(c)
		}
	}
	return rp.Finish(httptest.NewRecorder(), req)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := easel.ErrorCode(err); got != code {
		t.Fatalf("Finish error = %v (code %q), want code %q", err, got, code)
	}
}

// wantRefused checks the code and that the error, cause included, names why.
func wantRefused(t *testing.T, err error, code, why string) {
	t.Helper()
	wantCode(t, err, code)
	if !strings.Contains(err.Error(), why) {
		t.Errorf("Finish error = %v, want it to mention %q", err, why)
	}
}

func TestSignIn(t *testing.T) {
	p := startProvider(t)
	rp := newRP(t, p, nil)
	id, err := signIn(t, rp, flowOpts{})
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	want := mockoidc.DefaultUser()
	if id.Issuer != p.m.Issuer() || id.Subject != want.Subject || id.Email != want.Email {
		t.Errorf("identity = %+v, want issuer %s, subject %s, e-mail %s", id, p.m.Issuer(), want.Subject, want.Email)
	}
	if rp.Name() != strings.TrimPrefix(strings.Split(p.m.Issuer(), "/oidc")[0], "http://") {
		t.Errorf("Name() = %q", rp.Name())
	}
}

func TestBadState(t *testing.T) {
	p := startProvider(t)
	rp := newRP(t, p, nil)
	_, err := signIn(t, rp, flowOpts{callback: func(q url.Values) { q.Set("state", "forged-state") }})
	wantCode(t, err, easel.EInvalid)
	_, err = signIn(t, rp, flowOpts{noCookie: true})
	wantCode(t, err, easel.EInvalid)
}

func TestBadNonce(t *testing.T) {
	p := startProvider(t)
	rp := newRP(t, p, nil)
	// The provider puts the nonce it was asked for in the ID token: ask for another.
	_, err := signIn(t, rp, flowOpts{authURL: func(u *url.URL) {
		q := u.Query()
		q.Set("nonce", "someone-elses-nonce")
		u.RawQuery = q.Encode()
	}})
	wantRefused(t, err, easel.EUnauthorized, "nonce")
}

func TestBadPKCEVerifier(t *testing.T) {
	p := startProvider(t)
	rp := newRP(t, p, nil)
	// An attacker's challenge: the code is bound to it, so the exchange with this
	// browser's verifier fails.
	_, err := signIn(t, rp, flowOpts{authURL: func(u *url.URL) {
		q := u.Query()
		q.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
		u.RawQuery = q.Encode()
	}})
	wantRefused(t, err, easel.EUnauthorized, "code verifier")
}

func TestExpiredIDToken(t *testing.T) {
	p := startProvider(t)
	rp := newRP(t, p, nil)
	p.m.FastForward(-3 * time.Hour) // the provider issues a token that expired long ago
	defer p.m.FastForward(3 * time.Hour)
	_, err := signIn(t, rp, flowOpts{})
	wantRefused(t, err, easel.EUnauthorized, "expired")
}

func TestForgedIDToken(t *testing.T) {
	p := startProvider(t)
	rp := newRP(t, p, nil)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := mockoidc.NewKeypair(key)
	if err != nil {
		t.Fatal(err)
	}
	// Signed by another key, under its own key id...
	p.setRewrite(func(jwt.MapClaims) *mockoidc.Keypair { return other })
	_, err = signIn(t, rp, flowOpts{})
	wantRefused(t, err, easel.EUnauthorized, "signature")
	// ...and under the issuer's key id.
	kid, _ := p.m.Keypair.KeyID()
	other.Kid = kid
	_, err = signIn(t, rp, flowOpts{})
	wantRefused(t, err, easel.EUnauthorized, "signature")
	p.setRewrite(nil)
	if _, err := signIn(t, rp, flowOpts{}); err != nil {
		t.Fatalf("a genuine token after the forged ones: %v", err)
	}
}

func TestWrongAudienceOrIssuer(t *testing.T) {
	p := startProvider(t)
	rp := newRP(t, p, nil)
	for name, change := range map[string]func(jwt.MapClaims){
		"audience":           func(c jwt.MapClaims) { c["aud"] = []string{"another-client"} },
		"different provider": func(c jwt.MapClaims) { c["iss"] = "http://127.0.0.1:1/evil" },
	} {
		t.Run(name, func(t *testing.T) {
			// Signed by the issuer's own key: only the claim is wrong.
			p.setRewrite(func(c jwt.MapClaims) *mockoidc.Keypair { change(c); return p.m.Keypair })
			defer p.setRewrite(nil)
			_, err := signIn(t, rp, flowOpts{})
			wantRefused(t, err, easel.EUnauthorized, name)
		})
	}
}

func TestAllowList(t *testing.T) {
	p := startProvider(t)
	byDomain := newRP(t, p, func(c *oidcauth.Config) { c.AllowedDomains = []string{"Corp.Example"} })
	byGroup := newRP(t, p, func(c *oidcauth.Config) { c.AllowedGroups = []string{"designers"} })
	for _, tc := range []struct {
		name string
		rp   *oidcauth.Provider
		user *mockoidc.MockUser
		want string
	}{
		{"domain outside the list", byDomain, &mockoidc.MockUser{Subject: "a", Email: "eve@elsewhere.example", EmailVerified: true}, easel.EForbidden},
		{"domain in the list", byDomain, &mockoidc.MockUser{Subject: "b", Email: "ann@corp.example", EmailVerified: true}, ""},
		{"domain in the list, e-mail not verified", byDomain, &mockoidc.MockUser{Subject: "c", Email: "mallory@corp.example"}, easel.EForbidden},
		{"look-alike domain", byDomain, &mockoidc.MockUser{Subject: "d", Email: "eve@evilcorp.example", EmailVerified: true}, easel.EForbidden},
		{"group outside the list", byGroup, &mockoidc.MockUser{Subject: "e", Groups: []string{"engineering"}}, easel.EForbidden},
		{"group in the list", byGroup, &mockoidc.MockUser{Subject: "f", Groups: []string{"engineering", "designers"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.m.QueueUser(tc.user)
			id, err := signIn(t, tc.rp, flowOpts{})
			if tc.want == "" {
				if err != nil || id.Subject != tc.user.Subject {
					t.Fatalf("sign-in = %+v, %v; want subject %s admitted", id, err, tc.user.Subject)
				}
				return
			}
			wantCode(t, err, tc.want)
		})
	}
}
