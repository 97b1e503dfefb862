package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/httpapi"
	"github.com/easelhq/easel/service"
	"github.com/easelhq/easel/web"
)

type serveConfig struct {
	addr         string
	publicURL    string
	env          string
	logFormat    string
	logLevel     string
	stores       storeFlags
	models       modelFlags
	jobs         jobFlags
	limits       service.Limits
	maxBody      int
	bodyTime     time.Duration
	maxEditBody  int // edits (issue 10)
	editBodyTime time.Duration
	drain        time.Duration
	drainDelay   time.Duration
	thumbs       bool
	origin       string
	presign      time.Duration
	sweepAge     time.Duration
	sweepTick    time.Duration
	orphans      time.Duration
	bootstrap    bool
	memLimit     string
	private      privateFlags
	cdn          cdnFlags
	sso          ssoFlags
}

const serveAbout = `Runs the service: the JSON API under /v1, the page at /, images under /images/ when they
are kept in a folder, /healthz, /readyz and /metrics. On embedded defaults it uses the
offline model and keeps everything in --data (./easel-data). SIGTERM or Ctrl-C drains
and stops it (a second Ctrl-C stops it at once).`

func (c *serveConfig) bind(f *envFlags) {
	d := service.DefaultLimits()
	f.String(&c.addr, "addr", "EASEL_ADDR", "127.0.0.1:8080", "listen address")
	f.String(&c.publicURL, "public-url", "EASEL_PUBLIC_URL", "", "base URL of image URLs, e.g. https://site.example.com/images/; the page and sign-in link are this URL without its images/ (default: this server's /images/ on the host each request came to; presigned URLs on S3)")
	f.String(&c.env, "env", "EASEL_ENV", "development", "development or production (production never logs prompts and never prints keys)")
	f.String(&c.logFormat, "log-format", "EASEL_LOG_FORMAT", "json", "log format: json or text")
	f.String(&c.logLevel, "log-level", "EASEL_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	c.stores.bind(f)
	c.models.bind(f)
	c.jobs.bind(f)
	c.private.bind(f)
	c.cdn.bind(f)
	f.Float(&c.limits.UserRate, "user-rate", "EASEL_USER_RATE", d.UserRate, "generation requests per minute per user, on each instance: N instances allow up to N times this (0: unlimited)")
	f.Int(&c.limits.UserBurst, "user-burst", "EASEL_USER_BURST", d.UserBurst, "burst of generation requests per user, on each instance (0: a sixth of the rate, at least 1; N instances: N times this)")
	f.Int(&c.limits.UserConcurrency, "user-concurrency", "EASEL_USER_CONCURRENCY", d.UserConcurrency, "generations in progress per user, on each instance: N instances allow up to N times this (0: unlimited)")
	f.Int(&c.limits.MaxInflight, "max-inflight", "EASEL_MAX_INFLIGHT", d.MaxInflight, "generations in progress on this instance; more are shed with 503 (0: unlimited)")
	f.Int(&c.limits.MaxImagesInMemory, "max-images-in-memory", "EASEL_MAX_IMAGES_IN_MEMORY", d.MaxImagesInMemory, "generated images held in memory at once, from the model's answer to the end of the upload (each about one model answer: ~2 MB at 1024x1024); more generations wait for room (0: unlimited)")
	f.Int(&c.limits.DailyQuota, "daily-quota", "EASEL_DAILY_QUOTA", 0, "images per user per UTC day, across all instances (0: unlimited)")
	f.Duration(&c.limits.GenerateTimeout, "generate-timeout", "EASEL_GENERATE_TIMEOUT", d.GenerateTimeout, "time limit of one generation, model retries included (must be positive)")
	f.Int(&c.maxBody, "max-body", "EASEL_MAX_BODY", httpapi.DefaultMaxBodyBytes, "request body limit in bytes (must be positive)")
	f.Duration(&c.bodyTime, "body-timeout", "EASEL_BODY_TIMEOUT", httpapi.DefaultBodyTimeout, "time a generation request's body may take to arrive, once the caller is admitted (408 after) (must be positive)")
	f.Int(&c.limits.MaxConcurrentEdits, "max-concurrent-edits", "EASEL_MAX_CONCURRENT_EDITS", d.MaxConcurrentEdits, "edits in progress on this instance, from the reading of their body to the storing of their result (each up to ~100 MB with a 9.4 MP input); more wait (0: unlimited)")
	f.Int(&c.maxEditBody, "max-edit-body", "EASEL_MAX_EDIT_BODY", httpapi.DefaultMaxEditBodyBytes, "edit request body limit in bytes (POST /v1/edits, /v1/images/edits) (must be positive)")
	f.Duration(&c.editBodyTime, "edit-body-timeout", "EASEL_EDIT_BODY_TIMEOUT", httpapi.DefaultEditBodyTimeout, "time an edit request's body may take to arrive, once the caller is admitted and holds an edit slot (408 after) (must be positive)")
	f.Duration(&c.drainDelay, "drain-delay", "EASEL_DRAIN_DELAY", 5*time.Second, "on SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes; skipped when nothing has asked /readyz since start (0: none)")
	f.Duration(&c.drain, "drain-timeout", "EASEL_DRAIN_TIMEOUT", 30*time.Second, "after the listener closes, how long in-flight requests may take to finish (0: cut them off at once)")
	f.Bool(&c.thumbs, "thumbnails", "EASEL_THUMBNAILS", true, "make thumbnails in the background")
	f.String(&c.origin, "origin-secret", "EASEL_ORIGIN_SECRET", "", "require this value in the X-Origin-Verify header (set by CloudFront)")
	f.Duration(&c.presign, "presign-expiry", "EASEL_PRESIGN_EXPIRY", time.Hour, "lifetime of presigned S3 URLs when no --public-url is set (must be positive)")
	f.Duration(&c.sweepAge, "sweep-after", "EASEL_SWEEP_AFTER", 15*time.Minute, "age after which unfinished records and unrecorded objects are removed (must be positive)")
	f.Duration(&c.sweepTick, "sweep-every", "EASEL_SWEEP_EVERY", 5*time.Minute, "how often to sweep unfinished records (0: never, on this instance)")
	f.Duration(&c.orphans, "sweep-orphans-every", "EASEL_SWEEP_ORPHANS_EVERY", 24*time.Hour, "how often to list the blob store for unrecorded objects, left by failed deletes (0: on every sweep)")
	f.String(&c.memLimit, "memory-limit", "EASEL_MEMORY_LIMIT", "auto", "the Go runtime's soft memory limit: auto (GOMEMLIMIT, else 90% of the container's memory limit, else 75% of the machine's memory), off, or a size like 512MiB")
	c.sso.bind(f)
	f.Bool(&c.bootstrap, "bootstrap-admin", "EASEL_BOOTSTRAP_ADMIN", true, "on the first start with no keys, create user admin and print its sign-in link (never in production)")
}

// check refuses values the help calls invalid: negative numbers anywhere, and 0 where
// the help says the value must be positive. A 0 the help gives a meaning to passes.
func (c *serveConfig) check() error {
	for _, v := range []struct {
		name     string
		value    float64
		positive bool
	}{
		{"user-rate", c.limits.UserRate, false},
		{"user-burst", float64(c.limits.UserBurst), false},
		{"user-concurrency", float64(c.limits.UserConcurrency), false},
		{"max-inflight", float64(c.limits.MaxInflight), false},
		{"max-images-in-memory", float64(c.limits.MaxImagesInMemory), false},
		{"daily-quota", float64(c.limits.DailyQuota), false},
		{"generate-timeout", c.limits.GenerateTimeout.Seconds(), true},
		{"max-body", float64(c.maxBody), true},
		{"body-timeout", c.bodyTime.Seconds(), true},
		{"max-concurrent-edits", float64(c.limits.MaxConcurrentEdits), false},
		{"max-edit-body", float64(c.maxEditBody), true},
		{"edit-body-timeout", c.editBodyTime.Seconds(), true},
		{"drain-delay", c.drainDelay.Seconds(), false},
		{"drain-timeout", c.drain.Seconds(), false},
		{"presign-expiry", c.presign.Seconds(), true},
		{"sweep-after", c.sweepAge.Seconds(), true},
		{"sweep-every", c.sweepTick.Seconds(), false},
		{"sweep-orphans-every", c.orphans.Seconds(), false},
	} {
		if err := checkNumber(v.name, v.value, v.positive); err != nil {
			return err
		}
	}
	if c.env != "development" && c.env != "production" {
		return usageError{fmt.Errorf("--env %q: want development or production", c.env)}
	}
	if err := c.jobs.check(); err != nil {
		return err
	}
	if err := c.private.check(c.stores.blobURL(), c.publicURL); err != nil {
		return err
	}
	if err := c.cdn.check(c.publicURL); err != nil {
		return err
	}
	if err := c.sso.check(); err != nil {
		return err
	}
	return c.models.validate()
}

// checkNumber refuses a negative value, and 0 when the flag must be positive.
func checkNumber(name string, v float64, positive bool) error {
	switch {
	case v < 0:
		return usageError{fmt.Errorf("--%s: %g is negative", name, v)}
	case positive && v == 0:
		return usageError{fmt.Errorf("--%s: must be positive, not 0", name)}
	}
	return nil
}

func (c *serveConfig) production() bool { return c.env == "production" }

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want json or text", format)}
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c serveConfig
	f := newFlags("serve", "", serveAbout, stdout)
	c.bind(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if err := f.noArgs(); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	log, err := newLogger(c.logFormat, c.logLevel, stderr)
	if err != nil {
		return err
	}
	restoreMemLimit, err := applyMemoryLimit(c.memLimit, log)
	if err != nil {
		return err
	}
	defer restoreMemLimit()

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	listenURL := "http://" + displayAddr(ln.Addr())

	if err := checkStoresApart(c.stores.catalogURL(), c.stores.blobURL()); err != nil {
		return err
	}
	var aws awsLoader
	cat, err := openReady(ctx, c.stores.catalogURL(), &aws)
	if err != nil {
		return err
	}
	defer cat.close()
	blobs, local, err := openBlobs(ctx, c.stores.blobURL(), imageBase(c.publicURL, c.stores.blobURL()), c.private.presignExpiry(c.presign), &aws)
	if err != nil {
		return err
	}
	blobs, access, err := privateImages(ctx, &c.private, blobs, local, cat, &aws)
	if err != nil {
		return err
	}
	blobs, flushInvalidations, err := invalidateDeletes(ctx, &c.cdn, blobs, c.publicURL, &aws, log)
	if err != nil {
		return err
	}
	defer flushInvalidations() // after the drain: deletes made meanwhile are sent too
	models, err := openModels(ctx, &c.models, c.limits.GenerateTimeout, &aws, log)
	if err != nil {
		return err
	}
	jobs, closeJobs, err := openJobs(ctx, &c.jobs, cat, &aws, c.production(), log)
	if err != nil {
		return err
	}
	defer closeJobs()
	metrics := httpapi.NewMetrics()
	svc, err := service.New(service.Config{
		Models:     models,
		Catalog:    cat,
		Blobs:      blobs,
		Limits:     c.limits,
		Thumbnails: c.thumbs,
		SweepAfter: c.sweepAge,
		Jobs:       jobs,
		Observer:   metrics,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	sso, err := c.sso.open(ctx, siteURL(c.publicURL, listenURL))
	if err != nil {
		return err
	}
	svc.StartWorkers()
	api := httpapi.New(httpapi.Config{
		Service:      svc,
		Blobs:        blobs,
		ServeImages:  local,
		ImageAccess:  access,
		Page:         web.Handler(),
		ImageOrigin:  imageOrigin(ctx, blobs, log),
		MaxBodyBytes: int64(c.maxBody),
		BodyTimeout:  c.bodyTime,
		// edits
		MaxEditBodyBytes: int64(c.maxEditBody),
		EditBodyTimeout:  c.editBodyTime,
		OriginSecret:     c.origin,
		Production:       c.production(),
		Metrics:          metrics,
		Logger:           log,
		SSO:              sso,
	})
	// The drain delay is for whoever watches /readyz; with no watcher (a laptop),
	// a stop need not wait for one.
	var probed atomic.Bool
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			probed.Store(true)
		}
		api.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// Long enough for the slowest generation; the ALB's idle timeout is 60 s, so
		// keep-alive connections must outlive it.
		WriteTimeout:   c.limits.GenerateTimeout + 30*time.Second,
		IdleTimeout:    75 * time.Second,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	if err := svc.CheckBlobStore(ctx); err != nil {
		return err
	}
	if err := announce(ctx, &c, cat, listenURL, stdout); err != nil {
		return err
	}
	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSweep()
	if c.sweepTick > 0 {
		go svc.RunSweeper(sweepCtx, c.sweepTick, c.orphans)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "models", len(models), "env", c.env)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Draining. First /readyz answers 503 while everything is still served, for
	// drain-delay, so that a load balancer probing /readyz marks the instance unhealthy
	// and stops sending new requests before the port closes. Then the listener closes
	// and in-flight requests get drain-timeout to finish.
	api.SetDraining()
	stopSweep()
	svc.StopTaking() // queued jobs go to other instances; running ones go on
	if c.drainDelay > 0 && probed.Load() {
		log.Info("draining: /readyz answers 503, still serving", "delay", c.drainDelay.String(), "timeout", c.drain.String())
		select {
		case <-time.After(c.drainDelay):
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("draining: listener closed, finishing requests in flight", "timeout", c.drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.drain)
	defer cancel()
	// Running jobs (queued ones and those of requests waiting here) get the same
	// time; what is still running then is handed back to the queue.
	jobsDone := make(chan struct{})
	go func() { svc.Close(sctx); close(jobsDone) }()
	err = srv.Shutdown(sctx)
	if err != nil {
		srv.Close() // cut off what is left
	}
	<-jobsDone
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err != nil {
		log.Warn("drain timeout passed; remaining requests were cut off")
	}
	log.Info("stopped")
	return nil
}

// imageBase gives the blob store its URL base: the configured public URL; for a local
// folder without one, easel's own /images/ as a path, which the API makes absolute on
// the host each request came to (so --addr 0.0.0.0:PORT, a container's mapped port or a
// LAN name all get URLs that work); an S3 store without one presigns.
func imageBase(configured, blobURL string) string {
	switch {
	case configured != "":
		if !strings.HasSuffix(configured, "/") {
			configured += "/"
		}
		return configured
	case strings.HasPrefix(blobURL, "s3://"):
		return ""
	}
	return "/images/"
}

// imageOrigin is the origin the page loads images from, for its Content-Security-Policy:
// the public URL's, or the presigned URLs' (the S3 endpoint), or none beyond the page's
// own. It asks the store for the URL of a made-up key, so it is what the store answers.
func imageOrigin(ctx context.Context, blobs easel.BlobStore, log *slog.Logger) string {
	u, err := blobs.URL(ctx, easel.ImageKey(easel.NewID(), "image/png"))
	if err != nil {
		log.Warn("no image URL to allow in the page's Content-Security-Policy; images may not show", "err", err)
		return ""
	}
	return originOf(u)
}

// announce prints where the service is, where its data lives, how to stop it and how
// to make keys for it, and how to sign in. On the very first start (no key at all) it
// creates user admin and prints a link that signs in with its key, once.
//
// When keys exist but none was made by this server (say, easel keys create ran before
// the first start), it does not make an admin key nobody asked for: whoever made those
// keys holds them, and the sign-in line says how to use one.
func announce(ctx context.Context, c *serveConfig, cat *catalog, listenURL string, stdout io.Writer) error {
	site := siteURL(c.publicURL, listenURL)
	fmt.Fprintf(stdout, "Easel is serving on %s/\n", listenURL)
	if site != listenURL {
		fmt.Fprintf(stdout, "  public address: %s/\n", site)
	}
	fmt.Fprintf(stdout, "  catalog: %s\n  images:  %s\n", catalogPlace(c.stores.catalogURL()), blobPlace(c.stores.blobURL()))
	fmt.Fprintf(stdout, "Stop it with Ctrl-C. Make API keys in this catalog with: easel keys create --user NAME%s\n", c.stores.sameCatalogFlags())
	if c.sso.issuer != "" {
		fmt.Fprintf(stdout, "Single sign-on: people sign in at %s/ through %s (its redirect URL: %s/auth/callback).\n", site, c.sso.issuer, site)
	}
	if !c.bootstrap || c.production() {
		fmt.Fprintf(stdout, "Sign in at %s/ with an API key.\n", site)
		return nil
	}
	keys, err := cat.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if len(keys) > 0 {
		fmt.Fprintf(stdout, "Sign in at %s/ with an API key; %s/#key=<KEY> signs in directly.\n", site, site)
		return nil
	}
	_, key, err := service.CreateKey(ctx, cat, "admin", time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "First start: created user admin. This link signs you in; the key is shown only this once:\n")
	fmt.Fprintf(stdout, "  %s/#key=%s\n", site, key)
	return nil
}

// siteURL is the address of the page (no trailing slash): the public URL without its
// final images/ (https://site.example.com/images/ → https://site.example.com), else
// the listen address.
func siteURL(publicURL, listenURL string) string {
	if publicURL == "" {
		return listenURL
	}
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return listenURL
	}
	p := strings.TrimSuffix(u.Path, "/")
	p = strings.TrimSuffix(p, "/images")
	u.Path, u.RawPath, u.RawQuery, u.Fragment = strings.TrimSuffix(p, "/"), "", "", ""
	return u.String()
}

// blobPlace returns where a blob URL points, a folder as file://<absolute path>.
func blobPlace(raw string) string {
	dir, ok := strings.CutPrefix(raw, "file://")
	if !ok {
		return raw
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return "file://" + dir
}

// displayAddr turns a listener address into a host:port a browser can open.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}
