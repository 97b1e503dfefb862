package service_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/service"
)

// fixedModel is a zero-latency test model: it answers every call with the same
// pre-encoded PNG, counts its calls, and can be told to fail.
type fixedModel struct {
	png   []byte
	calls atomic.Int64
	err   error
	wait  chan struct{} // when set, Generate blocks until it is closed
}

func newFixedModel(t testing.TB, w, h int) *fixedModel {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return &fixedModel{png: buf.Bytes()}
}

func (m *fixedModel) Spec() easel.ModelSpec {
	return easel.ModelSpec{
		ID: "fixed", Provider: "test", MaxPromptLength: 100, NegativePrompt: true,
		SizeRange: &easel.SizeRange{Min: 64, Max: 2048, Step: 64}, DefaultSize: easel.Size{Width: 64, Height: 64},
		MaxImages: 4, SeedMax: 1000, OutputFormats: []string{"png"},
	}
}

func (m *fixedModel) Generate(ctx context.Context, req *easel.GenerateRequest) (*easel.Generation, error) {
	m.calls.Add(1)
	if m.wait != nil {
		select {
		case <-m.wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	g := &easel.Generation{}
	for i := range req.N {
		// A fresh copy each time, as a real adapter would hand over.
		g.Images = append(g.Images, easel.GeneratedImage{Data: bytes.Clone(m.png), ContentType: "image/png", Seed: *req.Seed + uint64(i), Width: 64, Height: 64})
	}
	return g, nil
}

// faultyBlobs fails the operations it is told to.
type faultyBlobs struct {
	easel.BlobStore
	failPut, failDelete atomic.Bool
	failPuts            atomic.Int32 // fail this many Puts, then succeed
}

func (b *faultyBlobs) Put(ctx context.Context, key string, data []byte, ct string) error {
	if b.failPut.Load() || b.failPuts.Add(-1) >= 0 {
		return errors.New("injected put failure")
	}
	return b.BlobStore.Put(ctx, key, data, ct)
}

func (b *faultyBlobs) Delete(ctx context.Context, key string) error {
	if b.failDelete.Load() {
		return errors.New("injected delete failure")
	}
	return b.BlobStore.Delete(ctx, key)
}

// faultyCatalog fails MarkReady when told to (DynamoDB failing after the PUT).
type faultyCatalog struct {
	easel.Catalog
	failReady atomic.Bool
}

func (c *faultyCatalog) MarkReady(ctx context.Context, user, id string) error {
	if c.failReady.Load() {
		return errors.New("injected catalog failure")
	}
	return c.Catalog.MarkReady(ctx, user, id)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	svc   *service.Service
	model *fixedModel
	blobs *faultyBlobs
	cat   *faultyCatalog
	dir   string
	clock *clock
	alice *service.Principal
	bob   *service.Principal
}

func newEnv(t testing.TB, limits service.Limits) *env {
	t.Helper()
	st, fs, dir := localtest.Stores(t, "http://127.0.0.1/images/")
	e := &env{
		model: newFixedModel(t, 64, 64),
		blobs: &faultyBlobs{BlobStore: fs},
		cat:   &faultyCatalog{Catalog: st},
		dir:   filepath.Join(dir, "images"),
		clock: &clock{t: time.Now()},
		alice: &service.Principal{UserID: "alice"},
		bob:   &service.Principal{UserID: "bob"},
	}
	var err error
	e.svc, err = service.New(service.Config{
		Models: []easel.Model{e.model}, Catalog: e.cat, Blobs: e.blobs, Limits: limits,
		SweepAfter: 10 * time.Minute, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.svc.Close(context.Background()) })
	// As serve does at start-up: the new, empty store is marked as this catalog's.
	if err := e.svc.CheckBlobStore(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// files lists the image folder, without the ownership mark.
func (e *env) files(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		if en.Name() != ".easel-owner" {
			names = append(names, en.Name())
		}
	}
	return names
}

func req(prompt string) *easel.GenerateRequest {
	return &easel.GenerateRequest{Prompt: prompt}
}

func unlimited() service.Limits {
	l := service.DefaultLimits()
	l.UserRate, l.UserConcurrency, l.MaxInflight = 0, 0, 0
	return l
}

// Invariant 1: a record that says ready points to an object that exists, whatever
// fails on the way.
func TestReadyRecordsHaveObjects(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	if _, err := e.svc.Generate(ctx, e.alice, req("fine"), ""); err != nil {
		t.Fatal(err)
	}
	e.blobs.failPut.Store(true)
	if _, err := e.svc.Generate(ctx, e.alice, req("put fails"), ""); err == nil {
		t.Fatal("Generate with a failing Put succeeded")
	}
	e.blobs.failPut.Store(false)
	e.cat.failReady.Store(true)
	if _, err := e.svc.Generate(ctx, e.alice, req("catalog fails after put"), ""); err == nil {
		t.Fatal("Generate with a failing MarkReady succeeded")
	}
	e.cat.failReady.Store(false)

	page, err := e.svc.ListImages(ctx, e.alice, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Images) != 1 {
		t.Fatalf("%d ready images, want 1 (failed requests must leave nothing visible)", len(page.Images))
	}
	for _, img := range page.Images {
		if _, err := os.Stat(filepath.Join(e.dir, img.Key)); err != nil {
			t.Errorf("ready image %s has no object: %v", img.ID, err)
		}
	}
	if got := e.files(t); len(got) != 1 {
		t.Errorf("objects after failures = %v, want only the good image (failed ones cleaned up)", got)
	}
}

// Invariant 2: leftovers of a crash (a pending record and its object, or an object
// with no record) do not outlive the sweep window.
func TestSweepRemovesLeftovers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	good, err := e.svc.Generate(ctx, e.alice, req("keep me"), "")
	if err != nil {
		t.Fatal(err)
	}
	// A crash after the object was written: MarkReady fails and so does the cleanup.
	e.cat.failReady.Store(true)
	e.blobs.failDelete.Store(true)
	if _, err := e.svc.Generate(ctx, e.alice, req("crash"), ""); err == nil {
		t.Fatal("Generate succeeded")
	}
	e.cat.failReady.Store(false)
	e.blobs.failDelete.Store(false)
	// An object no record points to (an id Easel never recorded).
	orphan := easel.ImageKey(easel.NewID(), "image/png")
	if err := e.blobs.Put(ctx, orphan, e.model.png, "image/png"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files(t)); n != 3 {
		t.Fatalf("%d objects before the sweep, want 3", n)
	}

	// Within the window nothing is touched: a generation may be in progress.
	st, err := e.svc.Sweep(ctx)
	if err != nil || st.PendingRecords+st.OrphanObjects != 0 {
		t.Fatalf("early Sweep = %+v, %v; want nothing removed", st, err)
	}
	e.clock.Add(11 * time.Minute)
	old := time.Now().Add(-11 * time.Minute)
	for _, name := range e.files(t) {
		_ = os.Chtimes(filepath.Join(e.dir, name), old, old)
	}
	st, err = e.svc.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.PendingRecords != 1 || st.OrphanObjects != 1 {
		t.Errorf("Sweep = %+v, want 1 pending record and 1 orphan object", st)
	}
	if got := e.files(t); len(got) != 1 || got[0] != good.Images[0].Key {
		t.Errorf("objects after the sweep = %v, want only %s", got, good.Images[0].Key)
	}
}

// Invariant 3: one user never reads, lists or deletes another's images.
func TestUsersAreIsolated(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	res, err := e.svc.Generate(ctx, e.alice, req("mine"), "")
	if err != nil {
		t.Fatal(err)
	}
	id := res.Images[0].ID
	if _, err := e.svc.GetImage(ctx, e.bob, id); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("GetImage as bob = %v, want not_found", err)
	}
	if err := e.svc.DeleteImage(ctx, e.bob, id); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("DeleteImage as bob = %v, want not_found", err)
	}
	if p, _ := e.svc.ListImages(ctx, e.bob, 10, ""); len(p.Images) != 0 {
		t.Errorf("bob lists %d images", len(p.Images))
	}
	if _, err := e.svc.GetImage(ctx, e.alice, id); err != nil {
		t.Errorf("alice's image after bob's attempts: %v", err)
	}
}

// Invariant 4: a retried request with the same Idempotency-Key calls the model once,
// even when the retries race.
func TestIdempotentRetriesCallTheModelOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	e.model.wait = make(chan struct{})
	var wg sync.WaitGroup
	results := make([]*service.GenerateResult, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() { results[i], errs[i] = e.svc.Generate(ctx, e.alice, req("once"), "key-1") })
	}
	time.Sleep(50 * time.Millisecond)
	close(e.model.wait)
	wg.Wait()
	var ok, conflict int
	for i := range 4 {
		switch {
		case errs[i] == nil:
			ok++
		case easel.ErrorCode(errs[i]) == easel.EConflict:
			conflict++
		default:
			t.Errorf("Generate #%d: %v", i, errs[i])
		}
	}
	if ok < 1 || ok+conflict != 4 {
		t.Errorf("%d answers and %d conflicts, want at least 1 answer and the rest conflicts", ok, conflict)
	}
	again, err := e.svc.Generate(ctx, e.alice, req("once"), "key-1")
	if err != nil || !again.Replayed {
		t.Fatalf("retry after completion = %+v, %v; want a replay", again, err)
	}
	if n := e.model.calls.Load(); n != 1 {
		t.Errorf("model called %d times, want 1", n)
	}
}

// A final error is remembered (the model is not paid again); a retryable one is not.
func TestIdempotencyRemembersFinalErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	e.model.err = easel.Errorf(easel.EContentPolicy, "The prompt was filtered.")
	for range 2 {
		if _, err := e.svc.Generate(ctx, e.alice, req("filtered"), "k"); easel.ErrorCode(err) != easel.EContentPolicy {
			t.Fatalf("Generate = %v, want content_policy", err)
		}
	}
	if n := e.model.calls.Load(); n != 1 {
		t.Errorf("model called %d times for a filtered request retried, want 1", n)
	}
	e.model.err = easel.Errorf(easel.EModelUnavailable, "down")
	_, _ = e.svc.Generate(ctx, e.alice, req("outage"), "k2")
	e.model.err = nil
	if _, err := e.svc.Generate(ctx, e.alice, req("outage"), "k2"); err != nil {
		t.Errorf("retry after an outage = %v, want success", err)
	}
}

// Invariant 6: bad input writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	for _, r := range []*easel.GenerateRequest{
		{},
		{Prompt: "x", Width: 65, Height: 64},
		{Prompt: "x", N: 5},
		{Prompt: "x", Model: "nope"},
	} {
		if _, err := e.svc.Generate(ctx, e.alice, r, "k"); easel.ErrorCode(err) != easel.EInvalid {
			t.Errorf("Generate(%+v) = %v, want invalid_request", r, err)
		}
	}
	if len(e.files(t)) != 0 || e.model.calls.Load() != 0 {
		t.Errorf("bad input: %d files, %d model calls; want none", len(e.files(t)), e.model.calls.Load())
	}
	if _, err := e.svc.Generate(ctx, e.alice, req("fine"), "k"); err != nil {
		t.Errorf("a good request with a key used by bad ones = %v, want success (bad input claims no key)", err)
	}
}

// Invariant 7: overload is shed before any work.
func TestInflightLimitSheds(t *testing.T) {
	l := unlimited()
	l.MaxInflight = 2
	e := newEnv(t, l)
	r1, err1 := e.svc.AcquireInflight()
	r2, err2 := e.svc.AcquireInflight()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	_, err := e.svc.AcquireInflight()
	var ee *easel.Error
	if !errors.As(err, &ee) || ee.Code != easel.EOverloaded || ee.RetryAfter <= 0 {
		t.Fatalf("third AcquireInflight = %v, want overloaded with RetryAfter", err)
	}
	r1()
	r2()
	if r, err := e.svc.AcquireInflight(); err != nil {
		t.Errorf("after release: %v", err)
	} else {
		r()
	}
}

func TestUserConcurrencyLimit(t *testing.T) {
	l := unlimited()
	l.UserConcurrency = 1
	e := newEnv(t, l)
	e.model.wait = make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := e.svc.Generate(context.Background(), e.alice, req("slow"), "")
		done <- err
	}()
	for e.model.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := e.svc.Generate(context.Background(), e.alice, req("second"), ""); easel.ErrorCode(err) != easel.ERateLimited {
		t.Errorf("second concurrent Generate = %v, want rate_limited", err)
	}
	bobDone := make(chan error)
	go func() {
		_, err := e.svc.Generate(context.Background(), e.bob, req("bob is not limited by alice"), "")
		bobDone <- err
	}()
	for e.model.calls.Load() < 2 { // bob reached the model: alice's slot did not block him
		time.Sleep(time.Millisecond)
	}
	close(e.model.wait)
	if err := <-done; err != nil {
		t.Error(err)
	}
	if err := <-bobDone; err != nil {
		t.Errorf("bob: %v", err)
	}
}

func TestQuotaRefundedOnFailure(t *testing.T) {
	l := unlimited()
	l.DailyQuota = 2
	e := newEnv(t, l)
	ctx := context.Background()
	e.model.err = easel.Errorf(easel.EModelUnavailable, "down")
	for range 3 {
		_, _ = e.svc.Generate(ctx, e.alice, req("fails"), "")
	}
	e.model.err = nil
	if _, err := e.svc.Generate(ctx, e.alice, &easel.GenerateRequest{Prompt: "two", N: 2}, ""); err != nil {
		t.Fatalf("Generate after refunded failures = %v, want success", err)
	}
	if _, err := e.svc.Generate(ctx, e.alice, req("three"), ""); easel.ErrorCode(err) != easel.EQuotaExceeded {
		t.Errorf("over quota = %v, want quota_exceeded", err)
	}
}

func TestGenerateTimeout(t *testing.T) {
	l := unlimited()
	l.GenerateTimeout = 20 * time.Millisecond
	e := newEnv(t, l)
	e.model.wait = make(chan struct{}) // never closed: the model hangs
	_, err := e.svc.Generate(context.Background(), e.alice, req("hang"), "")
	if easel.ErrorCode(err) != easel.EModelTimeout {
		t.Errorf("Generate on a hanging model = %v, want model_timeout", err)
	}
}

func TestRevokedKeyAndCache(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	k, key, err := service.CreateKey(ctx, e.cat, "carol", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(ctx, key)
	if err != nil || p.UserID != "carol" {
		t.Fatalf("Authenticate = %v, %v", p, err)
	}
	for _, bad := range []string{"", key + "x", key[:len(key)-1], "easel_" + string(make([]byte, 200))} {
		if _, err := e.svc.Authenticate(ctx, bad); easel.ErrorCode(err) != easel.EUnauthorized {
			t.Errorf("Authenticate(%.12q...) = %v, want unauthorized", bad, err)
		}
	}
	if err := e.cat.RevokeKey(ctx, k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(31 * time.Second) // past the cache lifetime
	if _, err := e.svc.Authenticate(ctx, key); easel.ErrorCode(err) != easel.EUnauthorized {
		t.Errorf("revoked key = %v, want unauthorized", err)
	}
}

// A key claimed by an instance that died mid-request is taken over once its lease
// (the generation timeout plus a minute) has passed; before that, retries get 409.
func TestAbandonedIdempotencyKeyIsTakenOver(t *testing.T) {
	ctx := context.Background()
	l := unlimited()
	l.GenerateTimeout = time.Minute
	e := newEnv(t, l)
	r := req("crashed")
	// What a crashed instance leaves: a running record for the same request.
	if _, err := e.svc.Generate(ctx, e.alice, r, "warm-up"); err != nil {
		t.Fatal(err)
	}
	hashOf := func() string { // the stored hash of "crashed" under the key "warm-up"
		rec := &easel.IdempotencyRecord{UserID: "alice", Key: "warm-up"}
		prev, _ := e.cat.BeginIdempotent(ctx, rec)
		return prev.RequestHash
	}
	now := e.clock.Now().UTC()
	if _, err := e.cat.BeginIdempotent(ctx, &easel.IdempotencyRecord{
		UserID: "alice", Key: "k", RequestHash: hashOf(), State: easel.IdempotencyRunning,
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Generate(ctx, e.alice, r, "k"); easel.ErrorCode(err) != easel.EConflict {
		t.Fatalf("retry within the lease = %v, want conflict", err)
	}
	e.clock.Add(2*time.Minute + time.Second)
	res, err := e.svc.Generate(ctx, e.alice, r, "k")
	if err != nil || len(res.Images) != 1 {
		t.Fatalf("retry after the lease = %v, %v; want a fresh answer", res, err)
	}
	if again, err := e.svc.Generate(ctx, e.alice, r, "k"); err != nil || !again.Replayed || again.Images[0].ID != res.Images[0].ID {
		t.Errorf("replay after the takeover = %+v, %v", again, err)
	}
}

// A generation that outlives the drain timeout stores its images after Close: that
// must not panic (the thumbnail queue is closed by then).
func TestStoreAfterClose(t *testing.T) {
	e := newEnv(t, unlimited())
	svc, err := service.New(service.Config{
		Models: []easel.Model{e.model}, Catalog: e.cat, Blobs: e.blobs, Limits: unlimited(), Thumbnails: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.Close(context.Background())
	if _, err := svc.Generate(context.Background(), e.alice, req("late"), ""); err != nil {
		t.Errorf("Generate after Close = %v, want the image stored without a thumbnail", err)
	}
}

// A request where one upload fails keeps the other images with their thumbnails and
// leaves nothing of the failed one: no batch is deleted any more, so no thumbnail made
// for a deleted image of it is left behind.
func TestPartialStoreFailureLeavesNoStrayObjects(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	svc, err := service.New(service.Config{
		Models: []easel.Model{e.model}, Catalog: e.cat, Blobs: e.blobs, Limits: unlimited(), Thumbnails: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.blobs.failPuts.Store(1)
	res, err := svc.Generate(ctx, e.alice, &easel.GenerateRequest{Prompt: "two", N: 2}, "")
	if err != nil || len(res.Images) != 1 || res.Failed != 1 {
		t.Fatalf("Generate = %+v, %v; want 1 image and 1 failed", res, err)
	}
	svc.Close(ctx) // the thumbnail queue is drained
	kept := res.Images[0]
	want := []string{kept.Key, easel.ThumbKey(kept.ID, "image/jpeg")}
	got := e.files(t)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("files = %v, want the kept image and its thumbnail %v", got, want)
	}
}

// A request refused for its input gives its rate token back: bad input costs nothing.
func TestBadInputCostsNoRate(t *testing.T) {
	l := unlimited()
	l.UserRate, l.UserBurst = 1, 1
	e := newEnv(t, l)
	for range 3 {
		if _, err := e.svc.Generate(context.Background(), e.alice, &easel.GenerateRequest{Prompt: "x", N: 99}, ""); easel.ErrorCode(err) != easel.EInvalid {
			t.Fatalf("Generate(n=99) = %v, want invalid_request", err)
		}
	}
	if _, err := e.svc.Generate(context.Background(), e.alice, req("fine"), ""); err != nil {
		t.Errorf("a good request after bad ones = %v, want success (the bucket of 1 is untouched)", err)
	}
	if _, err := e.svc.Generate(context.Background(), e.alice, req("again"), ""); easel.ErrorCode(err) != easel.ERateLimited {
		t.Errorf("a second good request = %v, want rate_limited", err)
	}
}
