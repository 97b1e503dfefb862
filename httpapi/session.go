package httpapi

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
)

// Single sign-on: people sign in through an OpenID Connect provider (/auth/login →
// the provider → /auth/callback), and the server keeps a session in a cookie: an
// opaque random id whose SHA-256 is in the catalog. The cookie is HttpOnly,
// SameSite=Lax, and Secure when the site is served over https (its name then has
// the __Host- prefix); over plain http, which only a loopback site may use, it is
// sent without Secure. Requests signed in with the cookie that change anything
// (any method but GET and HEAD) must carry the session's CSRF token in the
// X-CSRF-Token header: the page reads it from GET /v1/session, which another site
// cannot read. Requests with an API key (Authorization: Bearer) never look at the
// cookie and need no token.

// CSRFHeader carries a session's CSRF token.
const CSRFHeader = "X-CSRF-Token"

// DefaultSessionLifetime is how long a sign-in lasts (12 h).
const DefaultSessionLifetime = 12 * time.Hour

// SignInProvider is the identity provider's side of single sign-on (oidcauth.Provider).
type SignInProvider interface {
	Issuer() string // the issuer URL
	Name() string   // what the page's sign-in button calls it
	Secure() bool   // the site is https: cookies are Secure
	// Begin sends the browser to the provider.
	Begin(w http.ResponseWriter, r *http.Request)
	// Finish checks the provider's answer at the callback and says who signed in.
	Finish(w http.ResponseWriter, r *http.Request) (*easel.Identity, error)
}

// SSOConfig configures single sign-on.
type SSOConfig struct {
	// Provider signs people in; nil: no single sign-on (API keys only).
	Provider SignInProvider
	// SessionLifetime bounds a session; 0: DefaultSessionLifetime.
	SessionLifetime time.Duration
	// MaxUserKeys bounds a user's unrevoked keys made with POST /v1/keys; 0:
	// service.DefaultMaxUserKeys.
	MaxUserKeys int
}

func (s *Server) sessionCookieName() string {
	if p := s.cfg.SSO.Provider; p != nil && p.Secure() {
		return "__Host-easel_session"
	}
	return "easel_session"
}

func (s *Server) ssoRoutes() {
	s.handle("GET /auth/login", http.HandlerFunc(s.ssoLogin))
	s.handle("GET /auth/callback", http.HandlerFunc(s.ssoCallback))
	s.handle("GET /v1/session", http.HandlerFunc(s.getSession))
	s.handle("DELETE /v1/session", s.auth(s.deleteSession))
	s.handle("GET /v1/keys", s.auth(s.listKeys))
	s.handle("POST /v1/keys", s.auth(s.createKey))
	s.handle("DELETE /v1/keys/{id}", s.auth(s.revokeKey))
}

// authenticate finds the caller: the API key of the Authorization header when there
// is one, else the session cookie, whose state-changing requests need the CSRF
// token.
func (s *Server) authenticate(r *http.Request) (*service.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" || s.cfg.SSO.Provider == nil {
		return s.cfg.Service.Authenticate(r.Context(), bearerToken(h))
	}
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil || c.Value == "" {
		return s.cfg.Service.Authenticate(r.Context(), "") // the usual 401
	}
	p, _, err := s.cfg.Service.SessionPrincipal(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		want := service.SessionCSRF(c.Value)
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(want)) != 1 {
			return nil, easel.Errorf(easel.EForbidden, "This request needs the session's %s header (from GET /v1/session).", CSRFHeader)
		}
	}
	return p, nil
}

func (s *Server) setSessionCookie(w http.ResponseWriter, value string, maxAge int) {
	secure := s.cfg.SSO.Provider != nil && s.cfg.SSO.Provider.Secure()
	http.SetCookie(w, &http.Cookie{
		Name:     s.sessionCookieName(),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) ssoOff(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.SSO.Provider != nil {
		return false
	}
	s.writeError(w, r, easel.Errorf(easel.ENotFound, "Single sign-on is not configured on this server (--oidc-issuer); sign in with an API key."))
	return true
}

// ssoLogin sends the browser to the identity provider.
func (s *Server) ssoLogin(w http.ResponseWriter, r *http.Request) {
	if s.ssoOff(w, r) {
		return
	}
	s.cfg.SSO.Provider.Begin(w, r)
}

// ssoCallback finishes the sign-in: it verifies the provider's answer, maps the
// person to an Easel user (made on the first sign-in), starts a session and sends
// the browser to the page.
func (s *Server) ssoCallback(w http.ResponseWriter, r *http.Request) {
	if s.ssoOff(w, r) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	id, err := s.cfg.SSO.Provider.Finish(w, r)
	if err != nil {
		s.refuseSignIn(w, r, err)
		return
	}
	user, created, err := s.cfg.Service.UserForIdentity(r.Context(), *id)
	if err != nil {
		s.refuseSignIn(w, r, err)
		return
	}
	if created {
		s.cfg.Logger.Info("single sign-on: new user", "user", user)
	}
	if old, err := r.Cookie(s.sessionCookieName()); err == nil {
		_ = s.cfg.Service.EndSession(r.Context(), old.Value)
	}
	lifetime := s.cfg.SSO.SessionLifetime
	if lifetime <= 0 {
		lifetime = DefaultSessionLifetime
	}
	sid, _, err := s.cfg.Service.StartSession(r.Context(), user, lifetime)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rec := recorderOf(r); rec != nil {
		rec.user = user
	}
	s.setSessionCookie(w, sid, int(lifetime/time.Second))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// refuseSignIn answers a sign-in that failed. A browser (it asks for HTML) goes back
// to the page, which shows the reason on its sign-in card (#signin_error=...); any
// other client gets the JSON error. Either way the status and the reason are the
// public ones of writeError, and the request log records the error.
func (s *Server) refuseSignIn(w http.ResponseWriter, r *http.Request, err error) {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		s.writeError(w, r, err)
		return
	}
	if rec := recorderOf(r); rec != nil {
		rec.err = err
	}
	frag := url.Values{"signin_error": {easel.ErrorMessage(err)}}
	http.Redirect(w, r, "/#"+frag.Encode(), http.StatusSeeOther)
}

type ssoJSON struct {
	Issuer string `json:"issuer"`
	Name   string `json:"name"`
	URL    string `json:"sign_in_url"`
}

type sessionJSON struct {
	SSO       *ssoJSON   `json:"sso"`
	User      string     `json:"user,omitempty"`
	CSRFToken string     `json:"csrf_token,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// getSession tells the page how people sign in here and, with a live session
// cookie, who is signed in and the session's CSRF token. It needs no credentials.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	var out sessionJSON
	if p := s.cfg.SSO.Provider; p != nil {
		out.SSO = &ssoJSON{Issuer: p.Issuer(), Name: p.Name(), URL: "/auth/login"}
		if c, err := r.Cookie(s.sessionCookieName()); err == nil && c.Value != "" {
			pr, sess, err := s.cfg.Service.SessionPrincipal(r.Context(), c.Value)
			switch {
			case err == nil:
				out.User, out.CSRFToken, out.ExpiresAt = pr.UserID, service.SessionCSRF(c.Value), &sess.ExpiresAt
			case easel.IsCode(err, easel.EUnauthorized):
				s.setSessionCookie(w, "", -1) // ended or expired: forget it
			default:
				s.writeError(w, r, err)
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteSession signs out: the session is deleted and its cookie cleared.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if !principalOf(r).Session {
		s.writeError(w, r, easel.Errorf(easel.EInvalid, "This request is signed in with an API key, not a session: there is no session to end."))
		return
	}
	c, _ := r.Cookie(s.sessionCookieName()) // authenticate found it
	if err := s.cfg.Service.EndSession(r.Context(), c.Value); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, "", -1)
	w.WriteHeader(http.StatusNoContent)
}
