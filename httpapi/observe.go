package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/easelhq/easel"
)

// recorder captures what the access log and the metrics need.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	user   string
	err    error
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type recorderKey struct{}

func recorderOf(r *http.Request) *recorder {
	rec, _ := r.Context().Value(recorderKey{}).(*recorder)
	return rec
}

// observe logs each request once and counts it by route and status. It never logs
// headers (keys) and, in production, never prompts.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), recorderKey{}, rec))
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		s.cfg.Metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		s.cfg.Metrics.latency.WithLabelValues(route).Observe(took.Seconds())

		level := slog.LevelInfo
		if route == "GET /healthz" || route == "GET /readyz" || route == "GET /metrics" || route == "GET /images/{key}" {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("took", took),
		}
		if rec.user != "" {
			attrs = append(attrs, slog.String("user", rec.user))
		}
		if rec.err != nil {
			attrs = append(attrs, slog.String("code", easel.ErrorCode(rec.err)))
			if rec.status >= 500 {
				attrs = append(attrs, slog.String("err", rec.err.Error()))
				level = slog.LevelError
			}
		}
		s.cfg.Logger.LogAttrs(r.Context(), level, "request", attrs...)
	})
}
