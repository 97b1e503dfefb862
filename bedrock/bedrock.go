// Package bedrock is the Amazon Bedrock adapter of the easel.Model and easel.Editor
// ports: one Model per configured image model, calling bedrock-runtime InvokeModel
// with the model family's own request body (Stability: SD3.5 Large, Stable Image Core
// and Ultra, legacy SDXL, the Stability image services for edits; Amazon: Titan Image
// v2, Nova Canvas) and translating Bedrock's answers and errors into the domain's.
package bedrock

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/easelhq/easel"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one InvokeModel call. AWS advises a read timeout of at
	// least 300 s for image models; a caller's context deadline bounds it further.
	DefaultTimeout = 300 * time.Second
	// DefaultMaxConcurrency bounds the in-flight calls of one model, so a burst stays
	// inside the account's per-model quota instead of being throttled.
	DefaultMaxConcurrency = 4
	// DefaultMaxRetries is how many times a throttled or failed (5xx) call is retried.
	DefaultMaxRetries = 2
	// DefaultBackoffBase and DefaultBackoffMax shape the retry delay: the n-th retry
	// waits a random time in [0, min(max, base*2^(n-1))] ("full jitter").
	DefaultBackoffBase = 1 * time.Second
	DefaultBackoffMax  = 20 * time.Second
)

// Options tune a Model. The zero value gives the defaults above.
type Options struct {
	// Timeout bounds each InvokeModel call (the read timeout). 0: DefaultTimeout.
	Timeout time.Duration
	// MaxConcurrency bounds the model's in-flight calls; waiting for a slot honours
	// the request's context. 0: DefaultMaxConcurrency.
	MaxConcurrency int
	// MaxRetries bounds retries of throttled and 5xx calls. 0: DefaultMaxRetries;
	// negative: no retries. Independently, a call that timed out is retried at most
	// once, because InvokeModel has no idempotency token and may bill both calls.
	MaxRetries int
	// BackoffBase and BackoffMax shape the delay before a retry. 0: the defaults;
	// a negative BackoffBase retries at once (tests).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Logger receives retries and the reasons of refusals. nil: slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Model is one configured Bedrock image model. It is safe for concurrent use.
type Model struct {
	client  *bedrockruntime.Client
	modelID string // as sent in InvokeModel: a model id, inference profile id or ARN
	info    modelInfo
	spec    easel.ModelSpec
	opts    Options
	log     *slog.Logger
	sem     chan struct{} // in-flight calls
	// ops, for ImageServices, holds the model of each operation; nil otherwise.
	ops  map[string]*Model
	bufs bufPool // answer buffers
}

var (
	_ easel.Model  = (*Model)(nil)
	_ easel.Editor = (*Model)(nil)
)

// New returns the Model for modelID: a Bedrock model id
// ("stability.stable-image-core-v1:1"), the same behind a cross-region inference
// profile prefix ("us.", "eu.", "apac.", "global.", ...), an ARN, a short alias
// (core, ultra, sd3.5, titan, nova-canvas), or ImageServices ("image-services",
// "us.image-services"): one edit-only model performing all thirteen Stability image
// services, each operation calling its own model id with the same prefix. The model's family and limits are looked
// up from the id; an id this package has no limits for is an error. Spec().ID is the
// alias if one was given, else modelID.
//
// The client's own retries are switched off for the calls this Model makes: the
// retry policy is the Model's (see Options).
func New(client *bedrockruntime.Client, modelID string, opts Options) (*Model, error) {
	if client == nil {
		return nil, fmt.Errorf("bedrock: new model %q: nil client", modelID)
	}
	info, err := lookup(modelID)
	if err != nil {
		return nil, err
	}
	if info.bundle {
		return newImageServices(client, modelID, opts)
	}
	opts = opts.withDefaults()
	m := &Model{
		client:  client,
		modelID: ResolveAlias(modelID),
		info:    info,
		spec:    info.spec,
		opts:    opts,
		sem:     make(chan struct{}, opts.MaxConcurrency),
	}
	m.spec.ID = modelID
	if !isAlias(modelID) {
		m.spec.ID = m.modelID
	}
	m.log = opts.Logger.With("model", m.modelID)
	return m, nil
}

// Spec describes what the model accepts. Callers must not modify its slices or maps.
func (m *Model) Spec() easel.ModelSpec { return m.spec }

// Generate makes req.N images. The request is validated (and normalized) again here,
// cheaply, so nothing the model would refuse is ever sent and paid for.
//
// Stability models make one image per call: n images are n concurrent calls (each
// holding a concurrency slot), with seeds seed, seed+1, ... Amazon models make all n
// in one call from one seed, which every returned image reports. Image data are
// subslices of the model's answer buffer (decoded in place, not copied); the buffer is
// reused for another answer once the caller has released every image of it.
func (m *Model) Generate(ctx context.Context, req *easel.GenerateRequest) (*easel.Generation, error) {
	if m.spec.EditOnly {
		return nil, easel.ParamErrorf("model", "Model %s edits images only; it makes no image from a prompt alone.", m.spec.ID)
	}
	if err := m.spec.Validate(req); err != nil {
		return nil, err
	}
	r := *req
	m.spec.Normalize(&r)
	var seed uint64
	if r.Seed != nil {
		seed = *r.Seed
	} else {
		seed = rand.Uint64N(m.spec.SeedMax + 1)
	}
	if m.info.family == familyAmazon {
		return m.generateCall(ctx, &r, r.N, seed)
	}
	if r.N == 1 {
		return m.generateCall(ctx, &r, 1, seed)
	}
	return m.fanOut(ctx, &r, seed)
}

// fanOut makes req.N one-image calls concurrently. A failed call does not cancel its
// siblings: the images of the calls that succeeded were paid for, so they are returned,
// and Generation.Failed counts the calls that failed. Only a refused prompt stops the
// rest (every sibling would be refused too). When no image is left, the first error is
// returned (or EContentPolicy when every image was filtered).
func (m *Model) fanOut(ctx context.Context, req *easel.GenerateRequest, seed uint64) (*easel.Generation, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := make([]*easel.Generation, req.N)
	errs := make([]error, req.N)
	var wg sync.WaitGroup
	for i := range req.N {
		wg.Go(func() {
			g, err := m.generateCall(ctx, req, 1, m.seedAt(seed, i))
			if err != nil && easel.ErrorCode(err) == easel.EContentPolicy && !promptBlocked(err) {
				g, err = &easel.Generation{Filtered: 1}, nil // output filtered: keep the others
			}
			if promptBlocked(err) {
				cancel()
			}
			parts[i], errs[i] = g, err
		})
	}
	wg.Wait()
	gen := &easel.Generation{Images: make([]easel.GeneratedImage, 0, req.N)}
	var firstErr error
	for i, p := range parts {
		if errs[i] != nil {
			gen.Failed++
			if firstErr == nil || promptBlocked(errs[i]) {
				firstErr = errs[i]
			}
			continue
		}
		gen.Images = append(gen.Images, p.Images...)
		gen.Filtered += p.Filtered
		gen.Failed += p.Failed
	}
	if len(gen.Images) == 0 {
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, contentPolicy(false, nil)
	}
	if gen.Filtered > 0 {
		m.log.Info("bedrock content filter removed some images", "filtered", gen.Filtered, "kept", len(gen.Images))
	}
	if gen.Failed > 0 {
		m.log.Warn("some bedrock calls of a fan-out failed; keeping the images of the others",
			"failed", gen.Failed, "kept", len(gen.Images), "err", firstErr)
	}
	return gen, nil
}

// seedAt is the seed of the i-th image of a fan-out, kept inside 1..SeedMax (a
// Stability seed of 0 asks for a random one).
func (m *Model) seedAt(seed uint64, i int) uint64 {
	if i == 0 {
		return seed
	}
	s := (seed + uint64(i)) % (m.spec.SeedMax + 1)
	if s == 0 {
		s = 1
	}
	return s
}

// generateCall makes one InvokeModel call for n images and reads its answer.
func (m *Model) generateCall(ctx context.Context, req *easel.GenerateRequest, n int, seed uint64) (*easel.Generation, error) {
	body, err := m.requestBody(req, n, seed)
	if err != nil {
		return nil, err
	}
	out, err := m.invoke(ctx, body)
	if err != nil {
		return nil, err
	}
	a, err := decodeResponse(out.b)
	if err != nil {
		m.log.Error("bedrock answer unreadable", "err", err, "bytes", len(out.b))
		out.free()
		return nil, easel.WrapError(easel.EModelError, err, "The model returned an unreadable answer.")
	}
	gen, err := m.collect(a, req, n, seed)
	if err != nil {
		out.free() // no image refers to it
		return nil, err
	}
	out.share(gen.Images) // the images are subslices of out: it is freed when they are released
	return gen, nil
}
