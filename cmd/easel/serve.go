package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/httpapi"
	"github.com/easelhq/easel/service"
	"github.com/easelhq/easel/web"
)

type serveConfig struct {
	addr      string
	publicURL string
	env       string
	logFormat string
	logLevel  string
	stores    storeFlags
	models    modelFlags
	limits    service.Limits
	maxBody   int
	drain     time.Duration
	thumbs    bool
	origin    string
	presign   time.Duration
	sweepAge  time.Duration
	sweepTick time.Duration
	orphans   time.Duration
	bootstrap bool
	memLimit  string
}

func (c *serveConfig) bind(f *envFlags) {
	d := service.DefaultLimits()
	f.String(&c.addr, "addr", "EASEL_ADDR", "127.0.0.1:8080", "listen address")
	f.String(&c.publicURL, "public-url", "EASEL_PUBLIC_URL", "", "base URL of image URLs, e.g. https://cdn.example.com/images/ (default: this server's /images/ on the host each request came to; presigned URLs on S3)")
	f.String(&c.env, "env", "EASEL_ENV", "development", "development or production (production never logs prompts and never prints keys)")
	f.String(&c.logFormat, "log-format", "EASEL_LOG_FORMAT", "json", "log format: json or text")
	f.String(&c.logLevel, "log-level", "EASEL_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	c.stores.bind(f)
	c.models.bind(f)
	f.Float(&c.limits.UserRate, "user-rate", "EASEL_USER_RATE", d.UserRate, "generation requests per minute per user (0: unlimited)")
	f.Int(&c.limits.UserBurst, "user-burst", "EASEL_USER_BURST", d.UserBurst, "burst of generation requests per user")
	f.Int(&c.limits.UserConcurrency, "user-concurrency", "EASEL_USER_CONCURRENCY", d.UserConcurrency, "generations in progress per user (0: unlimited)")
	f.Int(&c.limits.MaxInflight, "max-inflight", "EASEL_MAX_INFLIGHT", d.MaxInflight, "generations in progress on this instance; more are shed with 503 (0: unlimited)")
	f.Int(&c.limits.MaxImagesInMemory, "max-images-in-memory", "EASEL_MAX_IMAGES_IN_MEMORY", d.MaxImagesInMemory, "generated images held in memory at once, from the model's answer to the end of the upload (each about one model answer: ~2 MB at 1024x1024); more generations wait for room (0: unlimited)")
	f.Int(&c.limits.DailyQuota, "daily-quota", "EASEL_DAILY_QUOTA", 0, "images per user per UTC day (0: unlimited)")
	f.Duration(&c.limits.GenerateTimeout, "generate-timeout", "EASEL_GENERATE_TIMEOUT", d.GenerateTimeout, "time limit of one model call, retries included")
	f.Int(&c.maxBody, "max-body", "EASEL_MAX_BODY", httpapi.DefaultMaxBodyBytes, "request body limit in bytes")
	f.Duration(&c.drain, "drain-timeout", "EASEL_DRAIN_TIMEOUT", 30*time.Second, "on SIGTERM, how long in-flight requests may take to finish")
	f.Bool(&c.thumbs, "thumbnails", "EASEL_THUMBNAILS", true, "make thumbnails in the background")
	f.String(&c.origin, "origin-secret", "EASEL_ORIGIN_SECRET", "", "require this value in the X-Origin-Verify header (set by CloudFront)")
	f.Duration(&c.presign, "presign-expiry", "EASEL_PRESIGN_EXPIRY", time.Hour, "lifetime of presigned S3 URLs when no --public-url is set")
	f.Duration(&c.sweepAge, "sweep-after", "EASEL_SWEEP_AFTER", 15*time.Minute, "age after which unfinished records and unrecorded objects are removed")
	f.Duration(&c.sweepTick, "sweep-every", "EASEL_SWEEP_EVERY", 5*time.Minute, "how often to sweep unfinished records")
	f.Duration(&c.orphans, "sweep-orphans-every", "EASEL_SWEEP_ORPHANS_EVERY", 24*time.Hour, "how often to list the blob store for unrecorded objects (left by failed deletes)")
	f.String(&c.memLimit, "memory-limit", "EASEL_MEMORY_LIMIT", "auto", "the Go runtime's soft memory limit: auto (GOMEMLIMIT, else 90% of the container's memory limit, else 75% of the machine's memory), off, or a size like 512MiB")
	f.Bool(&c.bootstrap, "bootstrap-admin", "EASEL_BOOTSTRAP_ADMIN", true, "on the first start with no keys, create user admin and print its key (never in production)")
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
	f := newFlags("serve", stderr)
	c.bind(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if c.env != "development" && c.env != "production" {
		return usageError{fmt.Errorf("--env %q: want development or production", c.env)}
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
	siteURL := "http://" + displayAddr(ln.Addr())

	var aws awsLoader
	cat, err := openReady(ctx, c.stores.catalogURL(), &aws)
	if err != nil {
		return err
	}
	defer cat.close()
	blobs, local, err := openBlobs(ctx, c.stores.blobURL(), imageBase(c.publicURL, c.stores.blobURL()), c.presign, &aws)
	if err != nil {
		return err
	}
	models, err := openModels(ctx, &c.models, &aws, log)
	if err != nil {
		return err
	}
	metrics := httpapi.NewMetrics()
	svc, err := service.New(service.Config{
		Models:     models,
		Catalog:    cat,
		Blobs:      blobs,
		Limits:     c.limits,
		Thumbnails: c.thumbs,
		SweepAfter: c.sweepAge,
		Observer:   metrics,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	api := httpapi.New(httpapi.Config{
		Service:      svc,
		Blobs:        blobs,
		ServeImages:  local,
		Page:         web.Handler(),
		ImageOrigin:  imageOrigin(ctx, blobs, log),
		MaxBodyBytes: int64(c.maxBody),
		OriginSecret: c.origin,
		Production:   c.production(),
		Metrics:      metrics,
		Logger:       log,
	})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// Long enough for the slowest generation; the ALB's idle timeout is 60 s, so
		// keep-alive connections must outlive it.
		WriteTimeout:   c.limits.GenerateTimeout + 30*time.Second,
		IdleTimeout:    75 * time.Second,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	if err := announce(ctx, &c, cat, siteURL, stdout); err != nil {
		return err
	}
	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSweep()
	go svc.RunSweeper(sweepCtx, c.sweepTick, c.orphans)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "models", len(models), "env", c.env)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Draining: readiness fails at once; in-flight requests get drain-timeout to finish.
	log.Info("draining", "timeout", c.drain.String())
	api.SetDraining()
	stopSweep()
	sctx, cancel := context.WithTimeout(context.Background(), c.drain)
	defer cancel()
	err = srv.Shutdown(sctx)
	svc.Close(sctx)
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

// announce prints where the service is, and on the very first start (no keys yet)
// creates the admin key and prints it once, in the page URL's fragment.
func announce(ctx context.Context, c *serveConfig, cat *catalog, siteURL string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "Easel is serving on %s/\n", siteURL)
	if !c.bootstrap || c.production() {
		fmt.Fprintln(stdout, "Create API keys with: easel keys create --user NAME")
		return nil
	}
	keys, err := cat.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if len(keys) > 0 {
		fmt.Fprintf(stdout, "Open %s/ and sign in with an API key (create one: easel keys create --user NAME).\n", siteURL)
		return nil
	}
	_, key, err := service.CreateKey(ctx, cat, "admin", time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "First start: created user admin. This link signs you in; the key is shown only this once:\n")
	fmt.Fprintf(stdout, "  %s/#key=%s\n", siteURL, key)
	return nil
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
