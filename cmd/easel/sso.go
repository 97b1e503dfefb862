package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/easelhq/easel/httpapi"
	"github.com/easelhq/easel/oidcauth"
	"github.com/easelhq/easel/service"
)

// ssoFlags are the single sign-on settings of easel serve (docs/sso.md).
type ssoFlags struct {
	issuer, clientID, clientSecret string
	groupsClaim, displayName       string
	domains, groups                []string
	lifetime                       time.Duration
	maxKeys                        int
}

func (s *ssoFlags) bind(f *envFlags) {
	f.String(&s.issuer, "oidc-issuer", "EASEL_OIDC_ISSUER", "", "OpenID Connect issuer URL: people sign in to the page through it (single sign-on); none: API keys only")
	f.String(&s.clientID, "oidc-client-id", "EASEL_OIDC_CLIENT_ID", "", "the client id registered with the issuer (its redirect URL is <site>/auth/callback)")
	f.String(&s.clientSecret, "oidc-client-secret", "EASEL_OIDC_CLIENT_SECRET", "", "the client's secret; none for a public client, which PKCE alone protects (never logged)")
	// The variable's value is the flag's default; -h must not print it.
	f.Lookup("oidc-client-secret").DefValue = ""
	f.List(&s.domains, "oidc-allowed-domains", "EASEL_OIDC_ALLOWED_DOMAINS", "admit only people with a verified e-mail address in these domains, or in --oidc-allowed-groups; none: everyone the issuer signs in")
	f.List(&s.groups, "oidc-allowed-groups", "EASEL_OIDC_ALLOWED_GROUPS", "admit only people in these groups (the --oidc-groups-claim claim), or in --oidc-allowed-domains")
	f.String(&s.groupsClaim, "oidc-groups-claim", "EASEL_OIDC_GROUPS_CLAIM", oidcauth.DefaultGroupsClaim, "the ID token claim that lists a person's groups (Cognito: cognito:groups)")
	f.String(&s.displayName, "oidc-display-name", "EASEL_OIDC_DISPLAY_NAME", "", "what the page's sign-in button calls the provider, as in \"Sign in with Cognito\" (default: the issuer's host name)")
	f.Duration(&s.lifetime, "session-lifetime", "EASEL_SESSION_LIFETIME", httpapi.DefaultSessionLifetime, "how long a single sign-on session lasts (must be positive)")
	f.Int(&s.maxKeys, "max-user-keys", "EASEL_MAX_USER_KEYS", service.DefaultMaxUserKeys, "unrevoked API keys a user may hold when making them with POST /v1/keys or on the page (must be positive)")
}

// check refuses incomplete or unsafe settings; call it after parsing.
func (s *ssoFlags) check() error {
	if err := checkNumber("session-lifetime", s.lifetime.Seconds(), true); err != nil {
		return err
	}
	if err := checkNumber("max-user-keys", float64(s.maxKeys), true); err != nil {
		return err
	}
	if s.issuer == "" {
		if s.clientID != "" || s.clientSecret != "" || len(s.domains) > 0 || len(s.groups) > 0 || s.displayName != "" {
			return usageError{fmt.Errorf("--oidc-client-id, --oidc-client-secret, --oidc-display-name and the allow-lists need --oidc-issuer")}
		}
		return nil
	}
	if s.clientID == "" {
		return usageError{fmt.Errorf("--oidc-issuer needs --oidc-client-id")}
	}
	u, err := url.Parse(s.issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname()))) {
		return usageError{fmt.Errorf("--oidc-issuer %q: want an https URL (http only on a loopback address, for tests)", s.issuer)}
	}
	return nil
}

// open reads the issuer's discovery document and returns the server's settings.
// The site must be https: session cookies are then Secure. A plain http site is
// allowed only on a loopback address (a laptop, the tests), where cookies go
// without Secure.
func (s *ssoFlags) open(ctx context.Context, site string) (httpapi.SSOConfig, error) {
	cfg := httpapi.SSOConfig{SessionLifetime: s.lifetime, MaxUserKeys: s.maxKeys}
	if s.issuer == "" {
		return cfg, nil
	}
	u, err := url.Parse(site)
	if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && loopbackHost(u.Hostname())) {
		return cfg, usageError{fmt.Errorf("single sign-on needs an https site: set --public-url https://... (plain http only on a loopback address); the site is %s", site)}
	}
	p, err := oidcauth.New(ctx, oidcauth.Config{
		Issuer:         s.issuer,
		ClientID:       s.clientID,
		ClientSecret:   s.clientSecret,
		RedirectURL:    strings.TrimSuffix(site, "/") + "/auth/callback",
		AllowedDomains: s.domains,
		AllowedGroups:  s.groups,
		GroupsClaim:    s.groupsClaim,
		DisplayName:    s.displayName,
	})
	if err != nil {
		return cfg, err
	}
	cfg.Provider = p
	return cfg, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
