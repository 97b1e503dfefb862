package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/dynamostore"
	"github.com/easelhq/easel/localfs"
	"github.com/easelhq/easel/offline"
	"github.com/easelhq/easel/s3blob"
	"github.com/easelhq/easel/sqlitestore"
)

// awsLoader loads the SDK's configuration once, and only when an AWS adapter is used:
// region, credentials and endpoints come from the SDK's standard settings.
type awsLoader struct {
	once sync.Once
	cfg  aws.Config
	err  error
}

func (l *awsLoader) load(ctx context.Context) (aws.Config, error) {
	l.once.Do(func() {
		// No region is fine here: a dynamodb:// or s3:// URL may name its own
		// (?region=), and each adapter refuses to start without one.
		l.cfg, l.err = awsconfig.LoadDefaultConfig(ctx)
	})
	return l.cfg, l.err
}

// catalog is an opened catalog with its own migrate and close.
type catalog struct {
	easel.Catalog
	migrate func(context.Context) error
	close   func() error
	local   bool // SQLite: serve migrates it by itself
	// sqlite is the store of a SQLite catalog (its queue lives in the same file).
	sqlite *sqlitestore.Store
}

func openCatalog(ctx context.Context, raw string, l *awsLoader) (*catalog, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, usageError{fmt.Errorf("catalog %q: want sqlite://PATH or dynamodb://TABLE", raw)}
	}
	switch scheme {
	case "sqlite":
		path, err := sqlitestore.PathFromURL(raw)
		if err != nil {
			return nil, usageError{err}
		}
		st, err := sqlitestore.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		return &catalog{Catalog: st, migrate: st.Migrate, close: st.Close, local: true, sqlite: st}, nil
	case "dynamodb":
		cfg, err := l.load(ctx)
		if err != nil {
			return nil, fmt.Errorf("catalog %q: %w", raw, err)
		}
		st, err := dynamostore.Open(ctx, cfg, raw)
		if err != nil {
			return nil, err
		}
		return &catalog{Catalog: st, migrate: st.Migrate, close: func() error { return nil }}, nil
	}
	return nil, usageError{fmt.Errorf("catalog %q: unknown scheme %q (want sqlite or dynamodb)", raw, scheme)}
}

// catalogPlace returns where a catalog URL points, as commands print it: a SQLite
// catalog as sqlite://<absolute path>, so that it means the same from any directory.
func catalogPlace(raw string) string {
	if !strings.HasPrefix(raw, "sqlite://") {
		return raw
	}
	path, err := sqlitestore.PathFromURL(raw)
	if err != nil {
		return raw
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return "sqlite://" + (&url.URL{Path: path}).EscapedPath()
}

// catalogExists reports whether the catalog at raw exists: the SQLite file, or the
// DynamoDB table. Opening a SQLite catalog creates it, so commands that must not
// create one ask first.
func catalogExists(ctx context.Context, raw string, l *awsLoader) (bool, error) {
	if strings.HasPrefix(raw, "sqlite://") {
		path, err := sqlitestore.PathFromURL(raw)
		if err != nil {
			return false, usageError{err}
		}
		switch _, err := os.Stat(path); {
		case err == nil:
			return true, nil
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		default:
			return false, err
		}
	}
	cat, err := openCatalog(ctx, raw, l)
	if err != nil {
		return false, err
	}
	defer cat.close()
	err = cat.Ping(ctx)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException" {
		return false, nil
	}
	return err == nil, err
}

// openReady opens the catalog for a command that uses it at once: a local (SQLite)
// catalog is migrated first; a DynamoDB table is created by `easel migrate` or the CDK app.
func openReady(ctx context.Context, raw string, l *awsLoader) (*catalog, error) {
	cat, err := openCatalog(ctx, raw, l)
	if err != nil {
		return nil, err
	}
	if cat.local {
		if err := cat.migrate(ctx); err != nil {
			cat.close()
			return nil, fmt.Errorf("migrate catalog: %w", err)
		}
	}
	return cat, nil
}

// openBlobs opens the blob store. local reports a folder store, which easel serves
// itself under /images/.
func openBlobs(ctx context.Context, raw, publicURL string, presign time.Duration, l *awsLoader) (store easel.BlobStore, local bool, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, false, usageError{fmt.Errorf("blob store %q: want file://DIR or s3://BUCKET", raw)}
	}
	switch scheme {
	case "file":
		if rest == "" {
			return nil, false, usageError{fmt.Errorf("blob store %q: no folder", raw)}
		}
		st, err := localfs.New(rest, publicURL)
		return st, true, err
	case "s3":
		cfg, err := l.load(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("blob store %q: %w", raw, err)
		}
		st, err := s3blob.Open(ctx, cfg, raw, publicURL, presign)
		return st, false, err
	}
	return nil, false, usageError{fmt.Errorf("blob store %q: unknown scheme %q (want file or s3)", raw, scheme)}
}

// modelFlags are the Bedrock adapter's settings.
type modelFlags struct {
	specs       []string
	timeout     time.Duration
	concurrency int
	retries     int
	check       bool
}

func (m *modelFlags) bind(f *envFlags) {
	f.List(&m.specs, "model", "EASEL_MODELS", "model: offline, or bedrock:<model-id or alias core|ultra|sd3.5|titan|nova-canvas>; the first is the default")
	f.Duration(&m.timeout, "bedrock-timeout", "EASEL_BEDROCK_TIMEOUT", 120*time.Second, "read timeout of one Bedrock call (0: none of its own; --generate-timeout still bounds it)")
	f.Int(&m.concurrency, "bedrock-concurrency", "EASEL_BEDROCK_CONCURRENCY", 8, "Bedrock calls in flight per model on this instance (0: unlimited)")
	f.Int(&m.retries, "bedrock-retries", "EASEL_BEDROCK_RETRIES", 3, "retries of a throttled or failed Bedrock call, at most one after a timeout (0: none)")
	f.Bool(&m.check, "check-models", "EASEL_CHECK_MODELS", false, "at start-up, refuse Bedrock models that are missing or past end of life, warn on LEGACY (GetFoundationModel)")
}

func (m *modelFlags) validate() error {
	for _, v := range []struct {
		name  string
		value float64
	}{
		{"bedrock-timeout", m.timeout.Seconds()},
		{"bedrock-concurrency", float64(m.concurrency)},
		{"bedrock-retries", float64(m.retries)},
	} {
		if err := checkNumber(v.name, v.value, false); err != nil {
			return err
		}
	}
	return nil
}

// unlimitedConcurrency stands for "no bound" in the adapter's semaphore (a channel of
// empty structs: its capacity costs no memory).
const unlimitedConcurrency = math.MaxInt32

// options turns the flags into the adapter's options. The adapter reads 0 as "its
// default"; the flags read 0 as their help says, so 0 is translated here.
func (m *modelFlags) options(generateTimeout time.Duration, log *slog.Logger) bedrock.Options {
	o := bedrock.Options{Timeout: m.timeout, MaxConcurrency: m.concurrency, MaxRetries: m.retries, Logger: log}
	if m.timeout == 0 {
		o.Timeout = generateTimeout // the request's own deadline is the only bound
	}
	if m.concurrency == 0 {
		o.MaxConcurrency = unlimitedConcurrency
	}
	if m.retries == 0 {
		o.MaxRetries = -1 // the adapter's "no retries"
	}
	return o
}

func openModels(ctx context.Context, mf *modelFlags, generateTimeout time.Duration, l *awsLoader, log *slog.Logger) ([]easel.Model, error) {
	specs := mf.specs
	if len(specs) == 0 {
		specs = []string{"offline"}
	}
	var (
		models   []easel.Model
		bedrocks []string
		runtime  *bedrockruntime.Client
	)
	for _, s := range specs {
		provider, id, _ := strings.Cut(s, ":")
		switch provider {
		case "offline":
			models = append(models, offline.New())
		case "bedrock":
			if id == "" {
				return nil, usageError{fmt.Errorf("model %q: name a Bedrock model id or alias after bedrock:", s)}
			}
			if runtime == nil {
				cfg, err := l.load(ctx)
				if err == nil && cfg.Region == "" {
					err = errors.New("no AWS region: set AWS_REGION")
				}
				if err != nil {
					return nil, fmt.Errorf("model %q: %w", s, err)
				}
				runtime = bedrockruntime.NewFromConfig(cfg)
			}
			m, err := bedrock.New(runtime, id, mf.options(generateTimeout, log))
			if err != nil {
				return nil, usageError{fmt.Errorf("model %q: %w", s, err)}
			}
			models = append(models, m)
			bedrocks = append(bedrocks, bedrock.ModelIDs(id)...) // image-services: each operation's model
		default:
			return nil, usageError{fmt.Errorf("model %q: unknown provider (want offline or bedrock:<id>)", s)}
		}
	}
	if mf.check && len(bedrocks) > 0 {
		cfg, _ := l.load(ctx)
		if err := bedrock.CheckModels(ctx, awsbedrock.NewFromConfig(cfg), bedrocks, log); err != nil {
			return nil, err
		}
	}
	return models, nil
}

// originOf returns scheme://host of a URL, for the page's Content-Security-Policy.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// checkStoresApart refuses a folder blob store that contains the SQLite catalog (such as
// --blob file://DATA with the catalog DATA/easel.db): the catalog's files would sit
// among the objects, served under /images/ and listed by the sweeper.
func checkStoresApart(catalogURL, blobURL string) error {
	dir, ok := strings.CutPrefix(blobURL, "file://")
	if !ok || !strings.HasPrefix(catalogURL, "sqlite://") {
		return nil
	}
	db, err := sqlitestore.PathFromURL(catalogURL)
	if err != nil {
		return nil // reported when the catalog is opened
	}
	rel, err := filepath.Rel(resolvePath(dir), resolvePath(db))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil
	}
	return usageError{fmt.Errorf("blob store %q contains the catalog %s: keep images in a folder of their own (the default is file://<data>/images)", blobURL, db)}
}

// resolvePath returns p absolute, with the symbolic links of its longest existing
// ancestor resolved, so that two spellings of one place compare equal.
func resolvePath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	rest := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(dir); err == nil {
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				return filepath.Join(real, rest)
			}
			return abs
		}
		if filepath.Dir(dir) == dir {
			return abs
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}
