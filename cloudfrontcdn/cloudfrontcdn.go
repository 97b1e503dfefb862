// Package cloudfrontcdn removes deleted images from CloudFront's edge caches: an
// Invalidator collects the paths of deleted objects for a window and sends them as one
// CreateInvalidation (split at CloudFront's limit of paths per invalidation), and a
// BlobStore decorator hands it the path of every object it deletes.
package cloudfrontcdn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/easelhq/easel"
)

// MaxPaths is CloudFront's limit on file paths in invalidations in progress at one
// time per distribution (wildcards aside), and so on the paths of one invalidation.
const MaxPaths = 3000

// DefaultWindow is how long paths are collected before they are sent.
const DefaultWindow = 10 * time.Second

// maxPending bounds the paths kept while CloudFront refuses them for a transient
// reason (throttling, too many invalidations in progress); older ones are dropped
// beyond it, with a warning. The objects themselves are gone either way: what is lost
// is only the early eviction from the edge caches.
const maxPending = 100 * MaxPaths

// API is the CloudFront call the Invalidator makes (*cloudfront.Client has it).
type API interface {
	CreateInvalidation(ctx context.Context, in *cloudfront.CreateInvalidationInput, opts ...func(*cloudfront.Options)) (*cloudfront.CreateInvalidationOutput, error)
}

// Options configure an Invalidator.
type Options struct {
	// Distribution is the CloudFront distribution id (E...).
	Distribution string
	// Window is how long paths are collected after the first one before they are
	// sent; 0: DefaultWindow.
	Window time.Duration
	// MaxPaths bounds the paths of one invalidation; 0: MaxPaths.
	MaxPaths int
	// Timeout bounds one CreateInvalidation call; 0: 30 s.
	Timeout time.Duration
	Logger  *slog.Logger
}

// ErrUnknownDistribution is reported when CloudFront has no distribution of that id
// (NoSuchDistribution); the paths are dropped.
var ErrUnknownDistribution = errors.New("no such CloudFront distribution")

// Invalidator batches invalidations. It is safe for concurrent use.
type Invalidator struct {
	api  API
	opts Options

	mu      sync.Mutex
	pending []string
	seen    map[string]bool
	timer   *time.Timer
	closed  bool
	sending sync.Mutex // one CreateInvalidation at a time
	lastErr error
	sent    int // invalidations created
}

// New returns an Invalidator that sends through api.
func New(api API, opts Options) (*Invalidator, error) {
	if opts.Distribution == "" {
		return nil, errors.New("cloudfrontcdn: no distribution id")
	}
	if opts.Window < 0 || opts.MaxPaths < 0 || opts.MaxPaths > MaxPaths {
		return nil, fmt.Errorf("cloudfrontcdn: window %s or paths per invalidation %d out of range (at most %d)", opts.Window, opts.MaxPaths, MaxPaths)
	}
	if opts.Window == 0 {
		opts.Window = DefaultWindow
	}
	if opts.MaxPaths == 0 {
		opts.MaxPaths = MaxPaths
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Invalidator{api: api, opts: opts, seen: map[string]bool{}}, nil
}

// Add queues paths (such as /images/<key>) for invalidation: they are sent when the
// window that the first queued path opened ends; full invalidations' worth go at once
// (the rest waits for the window). After Close, Add sends at once.
func (v *Invalidator) Add(paths ...string) {
	v.mu.Lock()
	for _, p := range paths {
		if !v.seen[p] {
			v.seen[p] = true
			v.pending = append(v.pending, p)
		}
	}
	if over := len(v.pending) - maxPending; over > 0 {
		v.opts.Logger.Warn("CloudFront invalidation backlog full; dropping the oldest paths", "distribution", v.opts.Distribution, "dropped", over)
		for _, p := range v.pending[:over] {
			delete(v.seen, p)
		}
		v.pending = slices.Delete(v.pending, 0, over)
	}
	full := len(v.pending) >= v.opts.MaxPaths
	closed := v.closed
	if !closed && v.timer == nil && len(v.pending) > 0 {
		v.timer = time.AfterFunc(v.opts.Window, v.windowEnded)
	}
	v.mu.Unlock()
	switch {
	case closed:
		go v.Flush(context.Background()) //nolint:errcheck // logged
	case full:
		go v.flush(context.Background(), false) //nolint:errcheck // logged
	}
}

func (v *Invalidator) windowEnded() {
	v.mu.Lock()
	v.timer = nil
	v.mu.Unlock()
	_ = v.Flush(context.Background()) // logged
}

// Flush sends every queued path now, in invalidations of at most MaxPaths paths, and
// returns the first error. Paths CloudFront refused for a transient reason stay queued
// for the next window; those of an unknown distribution are dropped
// (ErrUnknownDistribution).
func (v *Invalidator) Flush(ctx context.Context) error { return v.flush(ctx, true) }

// flush sends the queued paths, all of them or only full invalidations' worth (the
// rest waits for the window).
func (v *Invalidator) flush(ctx context.Context, all bool) error {
	v.sending.Lock()
	defer v.sending.Unlock()
	var first error
	for {
		v.mu.Lock()
		n := min(len(v.pending), v.opts.MaxPaths)
		batch := slices.Clone(v.pending[:n])
		v.mu.Unlock()
		if n == 0 || (!all && n < v.opts.MaxPaths) {
			return first
		}
		err := v.send(ctx, batch)
		v.mu.Lock()
		drop := err == nil || errors.Is(err, ErrUnknownDistribution) || permanent(err)
		if drop {
			for _, p := range batch {
				delete(v.seen, p)
			}
			v.pending = slices.Delete(v.pending, 0, n)
		}
		if err != nil {
			v.lastErr = err
			if !drop && !v.closed && v.timer == nil {
				v.timer = time.AfterFunc(v.opts.Window, v.windowEnded) // try again later
			}
		}
		v.mu.Unlock()
		if err != nil {
			if first == nil {
				first = err
			}
			v.opts.Logger.Error("CloudFront invalidation failed", "distribution", v.opts.Distribution, "paths", n, "kept_for_retry", !drop, "err", err)
			if !drop {
				return first
			}
		}
	}
}

func (v *Invalidator) send(ctx context.Context, paths []string) error {
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	ref := make([]byte, 12)
	_, _ = rand.Read(ref)
	out, err := v.api.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(v.opts.Distribution),
		InvalidationBatch: &types.InvalidationBatch{
			CallerReference: aws.String("easel-" + hex.EncodeToString(ref)),
			Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	})
	if err != nil {
		var nsd *types.NoSuchDistribution
		if errors.As(err, &nsd) {
			return fmt.Errorf("distribution %s: %w: %w", v.opts.Distribution, ErrUnknownDistribution, err)
		}
		return fmt.Errorf("distribution %s: create invalidation of %d paths: %w", v.opts.Distribution, len(paths), err)
	}
	v.mu.Lock()
	v.sent++
	v.mu.Unlock()
	id := ""
	if out.Invalidation != nil {
		id = aws.ToString(out.Invalidation.Id)
	}
	v.opts.Logger.Info("CloudFront invalidation created", "distribution", v.opts.Distribution, "invalidation", id, "paths", len(paths))
	return nil
}

// permanent reports a refusal that retrying cannot fix: a 4xx answer other than
// throttling and too many invalidations in progress (a wrong distribution, missing
// permissions, bad credentials). Network errors and 5xx answers are transient.
func permanent(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "TooManyInvalidationsInProgress", "Throttling", "ThrottlingException", "RequestLimitExceeded":
			return false
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500
	}
	return false
}

// Sent returns how many invalidations were created.
func (v *Invalidator) Sent() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.sent
}

// Err returns the last error of a CreateInvalidation call, or nil.
func (v *Invalidator) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastErr
}

// Close stops the window timer and sends what is queued (until ctx ends). Paths added
// afterwards are sent at once.
func (v *Invalidator) Close(ctx context.Context) error {
	v.mu.Lock()
	v.closed = true
	if v.timer != nil {
		v.timer.Stop()
		v.timer = nil
	}
	v.mu.Unlock()
	return v.Flush(ctx)
}

// Store is a BlobStore that queues the path of every object it deletes (Prefix + key)
// for invalidation; every other method is the inner store's.
type Store struct {
	easel.BlobStore
	inv    *Invalidator
	prefix string
}

// NewStore returns inner with its deletes invalidated under prefix (the path of the
// public URL, such as /images/).
func NewStore(inner easel.BlobStore, inv *Invalidator, prefix string) *Store {
	return &Store{BlobStore: inner, inv: inv, prefix: prefix}
}

// Delete deletes the object, then queues its path.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.BlobStore.Delete(ctx, key); err != nil {
		return err
	}
	s.inv.Add(s.prefix + key)
	return nil
}
