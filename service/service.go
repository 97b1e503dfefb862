// Package service is Easel's request path between the HTTP layer and the ports:
// authentication, limits, idempotency, generation, storage in a crash-safe order,
// thumbnails and the sweeper. It knows the ports (easel.Model, easel.BlobStore,
// easel.Catalog), never an adapter.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/easelhq/easel"
)

// Limits holds every bound the service enforces. Zero means unlimited where noted.
type Limits struct {
	// UserRate is generation requests per minute per user (token bucket); 0: unlimited.
	UserRate float64
	// UserBurst is the bucket size; 0 means max(1, UserRate/6).
	UserBurst int
	// UserConcurrency bounds a user's generations in progress; 0: unlimited.
	UserConcurrency int
	// MaxInflight bounds the instance's generations in progress; beyond it requests are
	// shed with 503 before any work; 0: unlimited.
	MaxInflight int
	// DailyQuota bounds images per user per UTC day; 0: unlimited.
	DailyQuota int
	// GenerateTimeout bounds one model call (all its retries included).
	GenerateTimeout time.Duration
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL time.Duration
	// MaxImagesInMemory bounds the generated images held in memory at once, from the
	// model's answer to the end of the upload; further generations wait for room
	// (memory.go). 0: unlimited.
	MaxImagesInMemory int
	// MaxConcurrentEdits bounds the edits in progress on this instance, from the
	// reading of their body to the storing of their result; more wait. 0: unlimited.
	MaxConcurrentEdits int
}

// DefaultLimits are the limits of a fresh install.
func DefaultLimits() Limits {
	return Limits{
		UserRate:        60,
		UserBurst:       10,
		UserConcurrency: 2,
		MaxInflight:     64,
		GenerateTimeout: 5 * time.Minute,
		IdempotencyTTL:  24 * time.Hour,

		MaxImagesInMemory:  DefaultMaxImagesInMemory,
		MaxConcurrentEdits: DefaultMaxConcurrentEdits,
	}
}

// Config configures a Service.
type Config struct {
	Models  []easel.Model // the first is the default
	Catalog easel.Catalog
	Blobs   easel.BlobStore
	Limits  Limits
	// Thumbnails turns thumbnail making on: a step after each job, durable and
	// retried.
	Thumbnails bool
	// ThumbnailWorkers bounds thumbnails made at once (CPU: decoding and scaling).
	// 0: 1.
	ThumbnailWorkers int
	// Jobs configures jobs: queue, workers, leases, notifications.
	Jobs JobConfig
	// SweepAfter is the age past which pending records and unrecorded objects are
	// removed (default 15 minutes). It must exceed the longest generation.
	SweepAfter time.Duration
	// Observer receives metrics events; nil: none.
	Observer Observer
	Logger   *slog.Logger
	// Now returns the current time (tests); nil: time.Now.
	Now func() time.Time
}

// Observer is told what happens, for metrics.
type Observer interface {
	// Generated records a successful generation.
	Generated(model string, took time.Duration, images int, bytes int64)
	// GenerateFailed records a failed generation with its error code.
	GenerateFailed(model, code string, took time.Duration)
	// Rejected records a request refused by a limit ("rate", "concurrency",
	// "inflight", "quota", "queue", "model_rate").
	Rejected(reason string)
	// JobQueued records a job put on the queue by a request.
	JobQueued()
	// JobFinished records a job that ended, by status.
	JobFinished(status string)
	// JobHandedBack records a running job put back on the queue by the reaper.
	JobHandedBack()
	// Webhook records a webhook delivery attempt: "delivered", "failed", "dropped".
	Webhook(result string)
	// SweepRefused records an orphan sweep that deleted nothing because the blob store
	// is not known to be this catalog's ("unmarked", "foreign_mark").
	SweepRefused(reason string)
}

// Service is Easel's request path. It is safe for concurrent use.
type Service struct {
	models   map[string]easel.Model
	order    []string
	catalog  easel.Catalog
	blobs    easel.BlobStore
	limits   Limits
	obs      Observer
	log      *slog.Logger
	now      func() time.Time
	sweepAge time.Duration

	users    *userLimiter
	inflight chan struct{}
	images   *imageSlots // MaxImagesInMemory
	// editSlots bounds edits in progress (MaxConcurrentEdits); nil: unlimited.
	editSlots chan struct{}
	keys      *keyCache

	jobs         JobConfig
	hub          *hub
	thumbnails   bool
	thumbSem     chan struct{} // bounds thumbnails made at once
	afterQ       chan afterItem
	afterBytes   atomic.Int64 // image bytes held by afterQ
	afterPending atomic.Int64 // items queued or in progress
	afterDone    sync.WaitGroup
	stopAfter    context.CancelFunc
	runsMu       sync.Mutex
	runs         map[string]*run // jobs running here, by id
	dispatcher   *dispatcher
	dispatchWake chan struct{}
	// background holds the dispatcher, reaper and after-work goroutines that
	// StartWorkers starts and stopBackground ends.
	background     sync.WaitGroup
	stopBackground context.CancelFunc

	cursorMu  sync.Mutex
	cursorKey []byte // signs page cursors; shared by all instances through the catalog
}

// New returns a Service; it starts the after-work of jobs (thumbnails,
// notifications). StartWorkers starts taking queued jobs; Close stops everything.
func New(cfg Config) (*Service, error) {
	if len(cfg.Models) == 0 {
		return nil, fmt.Errorf("service: no model configured")
	}
	if cfg.Catalog == nil || cfg.Blobs == nil {
		return nil, fmt.Errorf("service: catalog and blob store are required")
	}
	s := &Service{
		models:   make(map[string]easel.Model, len(cfg.Models)),
		catalog:  cfg.Catalog,
		blobs:    cfg.Blobs,
		limits:   cfg.Limits,
		obs:      cfg.Observer,
		log:      cfg.Logger,
		now:      cfg.Now,
		sweepAge: cfg.SweepAfter,
		keys:     newKeyCache(30*time.Second, 10000),

		jobs:         cfg.Jobs.withDefaults(cfg.Limits),
		hub:          newHub(),
		thumbnails:   cfg.Thumbnails,
		thumbSem:     make(chan struct{}, max(cfg.ThumbnailWorkers, 1)),
		afterQ:       make(chan afterItem, afterQueue),
		runs:         map[string]*run{},
		dispatchWake: make(chan struct{}, 1),
	}
	if s.obs == nil {
		s.obs = NopObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sweepAge <= 0 {
		s.sweepAge = 15 * time.Minute
	}
	if s.limits.IdempotencyTTL <= 0 {
		s.limits.IdempotencyTTL = 24 * time.Hour
	}
	if s.limits.GenerateTimeout <= 0 {
		s.limits.GenerateTimeout = 5 * time.Minute
	}
	for _, m := range cfg.Models {
		id := m.Spec().ID
		if _, dup := s.models[id]; dup {
			return nil, fmt.Errorf("service: model %q configured twice", id)
		}
		s.models[id] = m
		s.order = append(s.order, id)
	}
	// The default model makes images from text: an edit-only model never is, and
	// comes after it (Models lists the default first).
	if i := slices.IndexFunc(s.order, func(id string) bool { return !s.models[id].Spec().EditOnly }); i > 0 {
		id := s.order[i]
		s.order = append([]string{id}, slices.Delete(s.order, i, i+1)...)
	}
	if s.limits.MaxConcurrentEdits > 0 {
		s.editSlots = make(chan struct{}, s.limits.MaxConcurrentEdits)
	}
	if s.limits.MaxInflight > 0 {
		s.inflight = make(chan struct{}, s.limits.MaxInflight)
	}
	s.users = newUserLimiter(s.limits, s.now)
	s.images = newImageSlots(s.limits.MaxImagesInMemory)
	s.startAfterWork()
	return s, nil
}

// Close stops the job machinery (StopWorkers) and waits for synchronous runs, until
// ctx ends.
func (s *Service) Close(ctx context.Context) {
	s.StopWorkers(ctx)
}

// Models returns the specs of the configured models, the default first.
func (s *Service) Models() []easel.ModelSpec {
	out := make([]easel.ModelSpec, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.models[id].Spec())
	}
	return out
}

// DefaultModel returns the id of the default model.
func (s *Service) DefaultModel() string { return s.order[0] }

func (s *Service) model(id string) (easel.Model, error) {
	if id == "" {
		id = s.order[0]
	}
	if m, ok := s.models[id]; ok {
		return m, nil
	}
	return nil, easel.ParamErrorf("model", "Unknown model %q; available: %v.", id, slices.Clone(s.order))
}

// Ready checks that the catalog and the blob store answer.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.catalog.Ping(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if err := s.blobs.Ping(ctx); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	return nil
}

// ImageURLs returns the URLs of an image and of its thumbnail ("" when none).
func (s *Service) ImageURLs(ctx context.Context, img *easel.Image) (url, thumb string, err error) {
	if url, err = s.blobs.URL(ctx, img.Key); err != nil {
		return "", "", err
	}
	if img.ThumbKey != "" {
		if thumb, err = s.blobs.URL(ctx, img.ThumbKey); err != nil {
			return "", "", err
		}
	}
	return url, thumb, nil
}

// NopObserver records nothing; embed it in an Observer that watches only some events.
type NopObserver struct{}

func (NopObserver) Generated(string, time.Duration, int, int64)  {}
func (NopObserver) GenerateFailed(string, string, time.Duration) {}
func (NopObserver) Rejected(string)                              {}
func (NopObserver) JobQueued()                                   {}
func (NopObserver) JobFinished(string)                           {}
func (NopObserver) JobHandedBack()                               {}
func (NopObserver) Webhook(string)                               {}
func (NopObserver) SweepRefused(string)                          {}
