// Package httpapi is Easel's HTTP interface: the JSON API under /v1, health and
// metrics endpoints, the local image server under /images/ and the embedded page at /.
package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
)

// DefaultMaxBodyBytes bounds request bodies (64 KiB).
const DefaultMaxBodyBytes = 64 << 10

// DefaultBodyTimeout bounds the time a generation request's body may take to arrive,
// once the caller is admitted (10 s: a 64 KiB body at 6.5 KB/s).
const DefaultBodyTimeout = 10 * time.Second

// OriginHeader carries the shared secret that CloudFront adds on its way to the ALB.
const OriginHeader = "X-Origin-Verify"

// Config configures a Server.
type Config struct {
	Service *service.Service
	Blobs   easel.BlobStore // served under /images/ when ServeImages is set
	// ServeImages serves stored objects under /images/ (the local setup).
	ServeImages bool
	// ImageAccess, when set, is asked before an object is served under /images/
	// (private images): it answers until when the request's URL is valid, or why it is
	// not (403 forbidden).
	ImageAccess func(key string, query url.Values) (time.Time, error)
	// Page serves the web page at "/"; nil: none.
	Page http.Handler
	// ImageOrigin is added to the page's Content-Security-Policy img-src: the origin of
	// the URLs the blob store answers (a CDN's, or the S3 endpoint's for presigned URLs)
	// when images are not served by Easel itself.
	ImageOrigin string
	// MaxBodyBytes bounds request bodies; 0: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BodyTimeout bounds the reading of a generation request's body, which happens
	// after the caller's limits and before an instance slot is taken; 0:
	// DefaultBodyTimeout. A body still arriving then gets 408.
	BodyTimeout time.Duration
	// MaxEditBodyBytes bounds edit request bodies; 0: DefaultMaxEditBodyBytes.
	// EditBodyTimeout bounds their arrival; 0: DefaultEditBodyTimeout.
	MaxEditBodyBytes int64
	EditBodyTimeout  time.Duration
	// OriginSecret, when set, is required in the X-Origin-Verify header of every
	// request except GET /healthz and GET /readyz from a loopback address.
	OriginSecret string
	// Production hides prompts and keys from logs at every level.
	Production bool
	Metrics    *Metrics
	Logger     *slog.Logger
	// SSO configures single sign-on and sessions (session.go).
	SSO SSOConfig
}

// Server is the HTTP handler of Easel.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	handler  http.Handler
	draining atomic.Bool
	routes   []string
	started  time.Time // the "created" time of GET /v1/models entries
}

// New returns a Server with every route registered.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.MaxEditBodyBytes <= 0 {
		cfg.MaxEditBodyBytes = DefaultMaxEditBodyBytes
	}
	if cfg.EditBodyTimeout <= 0 {
		cfg.EditBodyTimeout = DefaultEditBodyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), started: time.Now()}
	cfg.Metrics.watchInflight(func() float64 { return float64(cfg.Service.InFlight()) })
	s.routesInit()
	s.handler = s.recoverPanics(s.observe(s.checkOrigin(s.secureHeaders(s.apiRoutes(s.mux)))))
	return s
}

func (s *Server) handle(pattern string, h http.Handler) {
	s.routes = append(s.routes, pattern)
	s.mux.Handle(pattern, h)
}

func (s *Server) routesInit() {
	s.handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.handle("GET /metrics", s.cfg.Metrics.Handler())
	s.handle("GET /openapi.yaml", http.HandlerFunc(serveOpenAPI))

	s.handle("GET /v1/me", s.auth(s.me))
	s.handle("GET /v1/models", s.auth(s.models))
	s.handle("GET /v1/models/{model...}", s.auth(s.model))
	s.handle("POST /v1/images", s.auth(s.createImages))
	s.handle("GET /v1/images", s.auth(s.listImages))
	s.handle("GET /v1/images/{id}", s.auth(s.getImage))
	s.handle("DELETE /v1/images/{id}", s.auth(s.deleteImage))
	s.handle("POST /v1/images/generations", s.auth(s.openAIGenerations))
	s.handle("POST /v1/images/edits", s.auth(s.openAIEdits))
	s.handle("POST /v1/edits", s.auth(s.createEdit))
	s.handle("GET /v1/jobs", s.auth(s.listJobs))
	s.handle("GET /v1/jobs/{id}", s.auth(s.getJob))
	s.handle("POST /v1/jobs/{id}/cancel", s.auth(s.cancelJob))
	s.handle("GET /v1/jobs/{id}/events", s.auth(s.jobEvents))
	s.handle("GET /v1/webhooks/secret", s.auth(s.webhookSecret))
	s.handle("POST /v1/webhooks/secret/rotate", s.auth(s.rotateWebhookSecret))
	s.ssoRoutes()

	if s.cfg.ServeImages {
		s.handle("GET /images/{key}", http.HandlerFunc(s.serveImage))
	}
	if s.cfg.Page != nil {
		s.handle("GET /", s.cfg.Page)
	}
}

// Routes returns the registered route patterns ("METHOD /path"), for the OpenAPI test.
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SetDraining makes /readyz answer 503, so load balancers stop sending new requests
// while in-flight ones finish.
func (s *Server) SetDraining() { s.draining.Store(true) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.cfg.Service.Ready(ctx); err != nil {
		s.cfg.Logger.Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "a dependency is unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type principalKey struct{}

func principalOf(r *http.Request) *service.Principal {
	p, _ := r.Context().Value(principalKey{}).(*service.Principal)
	return p
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header. The
// scheme is case-insensitive (RFC 9110, section 11.1): "bearer KEY" works too.
func bearerToken(h string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// auth requires a valid API key ("Authorization: Bearer <key>") or a session
// cookie (session.go).
func (s *Server) auth(next func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			if easel.IsCode(err, easel.EUnauthorized) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="easel"`)
			}
			if r.ContentLength != 0 {
				w.Header().Set("Connection", "close") // answer now; do not wait for the body
			}
			s.writeError(w, r, err)
			return
		}
		if rec := recorderOf(r); rec != nil {
			rec.user = p.UserID
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// admit admits a request that will create a job (per-user rate, concurrency or queue,
// and the Idempotency-Key) before its body is read. Refused, it has answered (with the
// connection closed rather than the body read and waited for) and returns ok false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, async bool) (*service.Admission, bool) {
	p := principalOf(r)
	admit := s.cfg.Service.Admit
	if async {
		admit = s.cfg.Service.AdmitJob
	}
	adm, err := admit(r.Context(), p, r.Header.Get("Idempotency-Key"))
	if err != nil {
		w.Header().Set("Connection", "close")
		setRateHeaders(w, s.cfg.Service.RateStatus(p.UserID))
		s.writeError(w, r, err)
		return nil, false
	}
	return adm, true
}

// startGenerate runs what comes before a generation, cheapest first, so that no
// caller can hold an instance slot for free: the caller's limits (Admit: rate and
// concurrency, or none for an idempotent replay; AdmitJob, the rate only, for a job to
// queue), then the body, read under BodyTimeout into v. The instance slot of a
// generation that runs at once is taken when it is submitted (503 when none is free).
// On failure it has answered and returns ok false; otherwise the caller submits the
// generation and then calls done.
func (s *Server) startGenerate(w http.ResponseWriter, r *http.Request, v any, async bool) (adm *service.Admission, done func(), ok bool) {
	adm, ok = s.admit(w, r, async)
	if !ok {
		return nil, nil, false
	}
	if err := s.decodeJSONWithin(w, r, v, s.cfg.BodyTimeout); err != nil {
		adm.Refund() // bad input costs no rate
		adm.Release()
		s.writeError(w, r, err)
		return nil, nil, false
	}
	return adm, adm.Release, true
}

// checkOrigin rejects requests that did not come through CloudFront, when configured.
// Exempt are GET /healthz and /readyz asked by the instance itself (a loopback peer:
// the boot script's readiness check, which has no business holding the secret) or by
// the load balancer's health checker: a private peer (RFC 1918, ULA) whose request
// carries no X-Forwarded-For. The ALB adds that header to every request it forwards,
// so whatever came through CloudFront and the ALB has it; its health checks have
// none. The peer is the TCP connection's, never a header.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	if s.cfg.OriginSecret == "" {
		return next
	}
	secret := []byte(s.cfg.OriginSecret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" && (loopbackPeer(r.RemoteAddr) || healthCheckPeer(r)) ||
			subtle.ConstantTimeCompare([]byte(r.Header.Get(OriginHeader)), secret) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		s.writeError(w, r, easel.Errorf(easel.EForbidden, "Requests must come through the site's CDN."))
	})
}

// apiRoutes answers requests under /v1 that match no route with the API's JSON error:
// 404 not_found for an unknown path (never the page, which "GET /" would serve), 405
// method_not_allowed with Allow for a known path and another method.
func (s *Server) apiRoutes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1" && !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		if _, pattern := s.mux.Handler(r); pattern != "" && pattern != "GET /" {
			next.ServeHTTP(w, r)
			return
		}
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pattern := s.mux.Handler(r2); pattern != "" && pattern != "GET /" {
				allowed = append(allowed, m)
				if m == http.MethodGet {
					allowed = append(allowed, http.MethodHead) // GET routes answer HEAD
				}
			}
		}
		if len(allowed) == 0 {
			s.writeError(w, r, easel.Errorf(easel.ENotFound, "No API route %s; see /openapi.yaml.", r.URL.Path))
			return
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeError(w, r, easel.Errorf(easel.EMethodNotAllowed, "%s does not take %s; it takes %s.", r.URL.Path, r.Method, strings.Join(allowed, ", ")))
	})
}

// loopbackPeer reports whether a request's RemoteAddr ("ip:port") is a loopback address.
// healthCheckPeer reports whether r looks like a load balancer's health check: a
// private peer address and no X-Forwarded-For header at all.
func healthCheckPeer(r *http.Request) bool {
	if _, forwarded := r.Header["X-Forwarded-For"]; forwarded {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsPrivate()
}

func loopbackPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func (s *Server) secureHeaders(next http.Handler) http.Handler {
	imgSrc := "'self' data: blob:"
	if s.cfg.ImageOrigin != "" {
		imgSrc += " " + s.cfg.ImageOrigin
	}
	csp := "default-src 'self'; img-src " + imgSrc + "; style-src 'self'; script-src 'self'; connect-src 'self'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/"):
			h.Set("Cache-Control", "no-store")
		case strings.HasPrefix(r.URL.Path, "/images/"):
		default:
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Frame-Options", "DENY")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.cfg.Logger.Error("panic", "route", r.Pattern, "panic", v)
				s.writeError(w, r, easel.Errorf(easel.EInternal, "panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
