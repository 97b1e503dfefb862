// Package oidcauth signs people in through an OpenID Connect provider (Cognito,
// Okta, Entra ID, Google, Keycloak, ...): the authorization code flow with PKCE
// (S256), state and nonce. The server exchanges the code and verifies the ID token
// against the issuer's published keys with github.com/coreos/go-oidc (signature,
// issuer, audience, expiry); nothing here parses or checks JOSE by hand. What is left
// to this package is the flow's state between the two legs (a short-lived HttpOnly
// cookie), the nonce, and the allow-list of e-mail domains and groups.
package oidcauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/easelhq/easel"
)

// DefaultGroupsClaim is the ID token claim read for --oidc-allowed-groups (Cognito's
// is "cognito:groups").
const DefaultGroupsClaim = "groups"

// flowLifetime bounds the time between leaving for the provider and coming back.
const flowLifetime = 10 * time.Minute

// Config configures a Provider.
type Config struct {
	Issuer       string // the issuer URL; its /.well-known/openid-configuration is read at start
	ClientID     string
	ClientSecret string // empty for a public client (PKCE only)
	// RedirectURL is where the provider sends people back: <site>/auth/callback.
	RedirectURL string
	// AllowedDomains, when not empty, admits people whose verified e-mail address is
	// in one of these domains. AllowedGroups, when not empty, admits people in one of
	// these groups (GroupsClaim). With both, either admits; with neither, everyone the
	// provider signs in is admitted.
	AllowedDomains []string
	AllowedGroups  []string
	GroupsClaim    string // "" means DefaultGroupsClaim
	// DisplayName is what the sign-in button calls the provider; "": the issuer's host.
	DisplayName string
	// HTTPClient reaches the provider; nil: http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock ID tokens are checked against (tests); nil: time.Now.
	Now func() time.Time
}

// Identity is who signed in.
type Identity = easel.Identity

// Provider is a configured OpenID Connect relying party.
type Provider struct {
	cfg      Config
	client   *http.Client
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	secure   bool // the redirect URL is https: cookies are Secure
}

// New reads the issuer's discovery document and returns a Provider.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("oidc: an issuer and a client id are required")
	}
	ru, err := url.Parse(cfg.RedirectURL)
	if err != nil || ru.Host == "" || (ru.Scheme != "https" && ru.Scheme != "http") {
		return nil, fmt.Errorf("oidc: redirect URL %q is not an absolute http(s) URL", cfg.RedirectURL)
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = DefaultGroupsClaim
	}
	for i, d := range cfg.AllowedDomains {
		cfg.AllowedDomains[i] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	p := &Provider{cfg: cfg, client: client, secure: ru.Scheme == "https"}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: %w", cfg.Issuer, err)
	}
	p.verifier = provider.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now})
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	if len(cfg.AllowedGroups) > 0 && cfg.GroupsClaim == DefaultGroupsClaim {
		// Okta, Keycloak and others put "groups" in the ID token for this scope only;
		// Cognito has no such scope and always sends cognito:groups.
		scopes = append(scopes, "groups")
	}
	p.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  cfg.RedirectURL,
		Scopes:       scopes,
	}
	return p, nil
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// Name returns what the sign-in button calls the provider: DisplayName, else the
// issuer's host.
func (p *Provider) Name() string {
	if p.cfg.DisplayName != "" {
		return p.cfg.DisplayName
	}
	if u, err := url.Parse(p.cfg.Issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return p.cfg.Issuer
}

// Secure reports whether the site is served over https, so cookies are Secure.
func (p *Provider) Secure() bool { return p.secure }

// flow is what the first leg leaves in the flow cookie for the second.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"` // Unix seconds
}

func (p *Provider) flowCookieName() string {
	if p.secure {
		return "__Host-easel_oidc"
	}
	return "easel_oidc"
}

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Begin sends the browser to the provider: it keeps a fresh state, nonce and PKCE
// verifier in an HttpOnly, SameSite=Lax cookie (Lax so that the provider's redirect
// back, a top-level GET, carries it) and redirects with the state, the nonce and the
// verifier's S256 challenge.
func (p *Provider) Begin(w http.ResponseWriter, r *http.Request) {
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Expires: time.Now().Add(flowLifetime).Unix()}
	v, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{
		Name:     p.flowCookieName(),
		Value:    base64.RawURLEncoding.EncodeToString(v),
		Path:     "/",
		MaxAge:   int(flowLifetime / time.Second),
		Secure:   p.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// Finish completes the flow on the redirect back: it checks the state against the
// flow cookie (and clears it), exchanges the code with the PKCE verifier, verifies
// the ID token (signature by the issuer's keys, issuer, audience, expiry), checks
// the nonce and the allow-list. Errors are easel errors: EInvalid for a request that
// is not a flow this browser started, EUnauthorized for a token that does not verify,
// EForbidden for a person the allow-list does not admit.
func (p *Provider) Finish(w http.ResponseWriter, r *http.Request) (*Identity, error) {
	var f flow
	c, err := r.Cookie(p.flowCookieName())
	http.SetCookie(w, &http.Cookie{Name: p.flowCookieName(), Value: "", Path: "/", MaxAge: -1, Secure: p.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if err != nil {
		return nil, easel.Errorf(easel.EInvalid, "No sign-in is in progress in this browser (its cookie is missing or expired): start again from the page.")
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || json.Unmarshal(raw, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return nil, easel.Errorf(easel.EInvalid, "The sign-in cookie is damaged: start again from the page.")
	}
	if time.Now().Unix() > f.Expires {
		return nil, easel.Errorf(easel.EInvalid, "The sign-in took too long: start again from the page.")
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return nil, easel.ParamErrorf("state", "The sign-in state does not match this browser's: start again from the page.")
	}
	if e := q.Get("error"); e != "" {
		return nil, easel.Errorf(easel.EUnauthorized, "The identity provider refused the sign-in (%s).", truncate(e, 64))
	}
	code := q.Get("code")
	if code == "" {
		return nil, easel.ParamErrorf("code", "The identity provider sent no code.")
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, p.client)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, easel.WrapError(easel.EUnauthorized, err, "The identity provider did not accept the sign-in code.")
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, easel.Errorf(easel.EUnauthorized, "The identity provider sent no ID token.")
	}
	idt, err := p.verifier.Verify(oidc.ClientContext(r.Context(), p.client), rawID)
	if err != nil {
		return nil, easel.WrapError(easel.EUnauthorized, err, "The ID token did not verify.")
	}
	// Compare hashes: constant time whatever the lengths.
	nh, fh := sha256.Sum256([]byte(idt.Nonce)), sha256.Sum256([]byte(f.Nonce))
	if subtle.ConstantTimeCompare(nh[:], fh[:]) != 1 {
		return nil, easel.Errorf(easel.EUnauthorized, "The ID token's nonce is not this sign-in's.")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, easel.WrapError(easel.EUnauthorized, err, "The ID token's claims are not readable.")
	}
	id := &Identity{Issuer: idt.Issuer, Subject: idt.Subject}
	email, _ := claims["email"].(string)
	if verified(claims["email_verified"]) && email != "" {
		id.Email = strings.ToLower(email)
	}
	if !p.admits(id.Email, groups(claims[p.cfg.GroupsClaim])) {
		return nil, easel.Errorf(easel.EForbidden, "You signed in, but this Easel admits only people of its allowed e-mail domains or groups.")
	}
	return id, nil
}

// admits applies the allow-list: a verified e-mail address in an allowed domain, or
// membership of an allowed group; with no list, everyone.
func (p *Provider) admits(email string, groups []string) bool {
	if len(p.cfg.AllowedDomains) == 0 && len(p.cfg.AllowedGroups) == 0 {
		return true
	}
	if _, domain, ok := strings.Cut(email, "@"); ok && slices.Contains(p.cfg.AllowedDomains, domain) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(p.cfg.AllowedGroups, g) {
			return true
		}
	}
	return false
}

// verified reads email_verified, a boolean or (Cognito, some others) the string "true".
func verified(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// groups reads a groups claim: a list of strings, or one string.
func groups(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, g := range v {
			if s, ok := g.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
