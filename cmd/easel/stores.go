package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

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
		l.cfg, l.err = awsconfig.LoadDefaultConfig(ctx)
		if l.err == nil && l.cfg.Region == "" {
			l.err = fmt.Errorf("no AWS region: set AWS_REGION")
		}
	})
	return l.cfg, l.err
}

// catalog is an opened catalog with its own migrate and close.
type catalog struct {
	easel.Catalog
	migrate func(context.Context) error
	close   func() error
	local   bool // SQLite: serve migrates it by itself
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
		return &catalog{Catalog: st, migrate: st.Migrate, close: st.Close, local: true}, nil
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
	f.Duration(&m.timeout, "bedrock-timeout", "EASEL_BEDROCK_TIMEOUT", 120*time.Second, "read timeout of one Bedrock call")
	f.Int(&m.concurrency, "bedrock-concurrency", "EASEL_BEDROCK_CONCURRENCY", 8, "Bedrock calls in flight per model on this instance")
	f.Int(&m.retries, "bedrock-retries", "EASEL_BEDROCK_RETRIES", 3, "retries of a throttled or failed Bedrock call")
	f.Bool(&m.check, "check-models", "EASEL_CHECK_MODELS", false, "at start-up, refuse Bedrock models that are not ACTIVE (GetFoundationModel)")
}

func openModels(ctx context.Context, mf *modelFlags, l *awsLoader, log *slog.Logger) ([]easel.Model, error) {
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
				if err != nil {
					return nil, fmt.Errorf("model %q: %w", s, err)
				}
				runtime = bedrockruntime.NewFromConfig(cfg)
			}
			m, err := bedrock.New(runtime, id, bedrock.Options{
				Timeout:        mf.timeout,
				MaxConcurrency: mf.concurrency,
				MaxRetries:     mf.retries,
				Logger:         log,
			})
			if err != nil {
				return nil, usageError{fmt.Errorf("model %q: %w", s, err)}
			}
			models = append(models, m)
			bedrocks = append(bedrocks, bedrock.ResolveAlias(id))
		default:
			return nil, usageError{fmt.Errorf("model %q: unknown provider (want offline or bedrock:<id>)", s)}
		}
	}
	if mf.check && len(bedrocks) > 0 {
		cfg, _ := l.load(ctx)
		if err := bedrock.CheckModels(ctx, awsbedrock.NewFromConfig(cfg), bedrocks); err != nil {
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
