// Package httpapi is Easel's HTTP interface: the JSON API under /v1, health and
// metrics endpoints, the local image server under /images/ and the embedded page at /.
package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
)

// DefaultMaxBodyBytes bounds request bodies (64 KiB).
const DefaultMaxBodyBytes = 64 << 10

// OriginHeader carries the shared secret that CloudFront adds on its way to the ALB.
const OriginHeader = "X-Origin-Verify"

// Config configures a Server.
type Config struct {
	Service *service.Service
	Blobs   easel.BlobStore // served under /images/ when ServeImages is set
	// ServeImages serves stored objects under /images/ (the local setup).
	ServeImages bool
	// Page serves the web page at "/"; nil: none.
	Page http.Handler
	// ImageOrigin is added to the page's Content-Security-Policy img-src: the origin of
	// the URLs the blob store answers (a CDN's, or the S3 endpoint's for presigned URLs)
	// when images are not served by Easel itself.
	ImageOrigin string
	// MaxBodyBytes bounds request bodies; 0: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// OriginSecret, when set, is required in the X-Origin-Verify header of every
	// request except GET /healthz.
	OriginSecret string
	// Production hides prompts and keys from logs at every level.
	Production bool
	Metrics    *Metrics
	Logger     *slog.Logger
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), started: time.Now()}
	s.routesInit()
	s.handler = s.recoverPanics(s.observe(s.checkOrigin(s.secureHeaders(s.mux))))
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
	s.handle("POST /v1/images", s.shed(s.auth(s.createImages)))
	s.handle("GET /v1/images", s.auth(s.listImages))
	s.handle("GET /v1/images/{id}", s.auth(s.getImage))
	s.handle("DELETE /v1/images/{id}", s.auth(s.deleteImage))
	s.handle("POST /v1/images/generations", s.shed(s.auth(s.openAIGenerations)))

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

// auth requires a valid API key: "Authorization: Bearer <key>".
func (s *Server) auth(next func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			key = ""
		}
		p, err := s.cfg.Service.Authenticate(r.Context(), strings.TrimSpace(key))
		if err != nil {
			if easel.IsCode(err, easel.EUnauthorized) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="easel"`)
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

// shed reserves an instance generation slot before anything else is done, so that
// overload costs almost nothing: 503 with Retry-After.
func (s *Server) shed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, err := s.cfg.Service.AcquireInflight()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		defer release()
		s.cfg.Metrics.inflight.Inc()
		defer s.cfg.Metrics.inflight.Dec()
		next.ServeHTTP(w, r)
	})
}

// checkOrigin rejects requests that did not come through CloudFront, when configured.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	if s.cfg.OriginSecret == "" {
		return next
	}
	secret := []byte(s.cfg.OriginSecret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || subtle.ConstantTimeCompare([]byte(r.Header.Get(OriginHeader)), secret) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		s.writeError(w, r, easel.Errorf(easel.EForbidden, "Requests must come through the site's CDN."))
	})
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
