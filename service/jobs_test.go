package service_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/service"
	"github.com/easelhq/easel/sqlitestore"
)

// jobModel is a test model for jobs: it records the prompts it was called with, in
// order, can block until released, can fail its first calls, and can return a partial
// answer when its context ends.
type jobModel struct {
	*fixedModel
	mu       sync.Mutex
	prompts  []string
	failN    atomic.Int64 // fail this many calls with failErr
	failErr  error
	block    chan struct{} // when set, calls wait for it (or their context)
	started  chan string   // when set, receives each prompt as a call starts
	partial  bool          // when blocked and canceled, return one image with the error
	inFlight atomic.Int64
}

func newJobModel(t testing.TB) *jobModel {
	return &jobModel{fixedModel: newFixedModel(t, 64, 64)}
}

func (m *jobModel) Generate(ctx context.Context, req *easel.GenerateRequest) (*easel.Generation, error) {
	m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	m.mu.Lock()
	m.prompts = append(m.prompts, req.Prompt)
	m.mu.Unlock()
	if m.started != nil {
		m.started <- req.Prompt
	}
	if m.failN.Add(-1) >= 0 {
		m.calls.Add(1)
		return nil, m.failErr
	}
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			m.calls.Add(1)
			if m.partial {
				g, _ := m.fixedModel.Generate(context.Background(), &easel.GenerateRequest{N: 1, Seed: req.Seed})
				return g, ctx.Err()
			}
			return nil, ctx.Err()
		}
	}
	return m.fixedModel.Generate(ctx, req)
}

func (m *jobModel) calledWith() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.prompts)
}

// sentHooks records webhook messages and fails the first failN.
type sentHooks struct {
	mu    sync.Mutex
	msgs  []*easel.WebhookMessage
	tries atomic.Int64
	failN atomic.Int64
}

func (h *sentHooks) Check(ctx context.Context, u string) error {
	if !strings.HasPrefix(u, "https://") {
		return easel.ParamErrorf("webhook", "The webhook must be an https URL.")
	}
	return nil
}

func (h *sentHooks) Send(ctx context.Context, m *easel.WebhookMessage) error {
	h.tries.Add(1)
	if h.failN.Add(-1) >= 0 {
		return errors.New("receiver answered 500")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, m)
	return nil
}

func (h *sentHooks) sent() []*easel.WebhookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.msgs)
}

type jobEnv struct {
	svc   *service.Service
	cfg   service.Config
	cat   *sqlitestore.Store
	queue *sqlitestore.Queue
	model *jobModel
	hooks *sentHooks
	clock *clock
	alice *service.Principal
	bob   *service.Principal
}

// newJobEnv makes a service with a SQLite catalog and queue, a folder blob store and
// a recording webhook sender. tune may change the configuration; workers are not
// started (call start).
func newJobEnv(t *testing.T, tune func(*service.Config)) *jobEnv {
	t.Helper()
	st, fs, _ := localtest.Stores(t, "http://127.0.0.1/images/")
	e := &jobEnv{
		cat:   st,
		queue: st.Queue(sqlitestore.QueueOptions{PollInterval: 50 * time.Millisecond}),
		model: newJobModel(t),
		hooks: &sentHooks{},
		clock: &clock{t: time.Now()},
		alice: &service.Principal{UserID: "alice"},
		bob:   &service.Principal{UserID: "bob"},
	}
	limits := unlimited()
	e.cfg = service.Config{
		Models: []easel.Model{e.model}, Catalog: st, Blobs: fs, Limits: limits,
		SweepAfter: 10 * time.Minute, Now: e.clock.Now,
		Jobs: service.JobConfig{
			Queue: e.queue, Workers: 4, Webhooks: e.hooks, Lease: 3 * time.Second,
			ReapEvery: time.Hour, // tests call Reap themselves
		},
	}
	if tune != nil {
		tune(&e.cfg)
	}
	e.svc = e.newService(t)
	return e
}

func (e *jobEnv) newService(t *testing.T) *service.Service {
	t.Helper()
	svc, err := service.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		svc.Close(ctx)
	})
	return svc
}

func (e *jobEnv) submit(t *testing.T, p *service.Principal, prompt string, opt service.JobOptions) *easel.Job {
	t.Helper()
	sub, err := e.svc.Submit(context.Background(), p, req(prompt), opt, "", true)
	if err != nil {
		t.Fatalf("Submit(%q) = %v", prompt, err)
	}
	return sub.Job
}

func (e *jobEnv) wait(t *testing.T, p *service.Principal, id string) *easel.Job {
	t.Helper()
	j, err := e.svc.WaitJob(context.Background(), p, id, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Status.Terminal() {
		t.Fatalf("job %s is still %s after 20 s", id, j.Status)
	}
	return j
}

func eventTypes(j *easel.Job) []string {
	var out []string
	for _, ev := range j.Events {
		out = append(out, ev.Type)
	}
	return out
}

func TestAsyncJobRuns(t *testing.T) {
	e := newJobEnv(t, nil)
	queued := e.submit(t, e.alice, "a lighthouse", service.JobOptions{})
	if queued.Status != easel.JobQueued {
		t.Fatalf("Submit(async) status = %s, want queued", queued.Status)
	}
	e.svc.StartWorkers()
	j := e.wait(t, e.alice, queued.ID)
	if j.Status != easel.JobSucceeded || len(j.ImageIDs) != 1 {
		t.Fatalf("job = %s with %d images, want succeeded with 1", j.Status, len(j.ImageIDs))
	}
	want := []string{easel.EventJobQueued, easel.EventJobRunning, easel.EventImageReady, easel.EventJobSucceeded}
	if got := eventTypes(j); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if _, err := e.svc.GetImage(context.Background(), e.alice, j.ImageIDs[0]); err != nil {
		t.Errorf("GetImage(job's image) = %v", err)
	}
	// Another user never sees it.
	if _, err := e.svc.GetJob(context.Background(), e.bob, j.ID); !easel.IsCode(err, easel.ENotFound) {
		t.Errorf("GetJob(bob, alice's job) = %v, want not_found", err)
	}
	if _, err := e.svc.CancelJob(context.Background(), e.bob, j.ID); !easel.IsCode(err, easel.ENotFound) {
		t.Errorf("CancelJob(bob, alice's job) = %v, want not_found", err)
	}
}

func TestSyncRequestIsAJob(t *testing.T) {
	e := newJobEnv(t, nil)
	res, err := e.svc.Generate(context.Background(), e.alice, req("sync"), "")
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.svc.ListJobs(context.Background(), e.alice, nil, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 1 || page.Jobs[0].Status != easel.JobSucceeded || !slices.Equal(page.Jobs[0].ImageIDs, []string{res.Images[0].ID}) {
		t.Fatalf("ListJobs after a synchronous request = %+v", page.Jobs)
	}
}

func TestCancelQueuedJobNeverReachesTheModel(t *testing.T) {
	e := newJobEnv(t, nil)
	j := e.submit(t, e.alice, "never", service.JobOptions{})
	c, err := e.svc.CancelJob(context.Background(), e.alice, j.ID)
	if err != nil || c.Status != easel.JobCanceled {
		t.Fatalf("CancelJob(queued) = %v, %v; want canceled", c, err)
	}
	if _, err := e.svc.CancelJob(context.Background(), e.alice, j.ID); !easel.IsCode(err, easel.EConflict) {
		t.Errorf("CancelJob(canceled) = %v, want conflict", err)
	}
	e.svc.StartWorkers()
	other := e.submit(t, e.alice, "after", service.JobOptions{})
	e.wait(t, e.alice, other.ID)
	if got := e.model.calledWith(); !slices.Equal(got, []string{"after"}) {
		t.Errorf("model called with %q, want only the job that was not canceled", got)
	}
}

func TestCancelRunningJobKeepsReturnedImages(t *testing.T) {
	e := newJobEnv(t, nil)
	e.model.block = make(chan struct{})
	e.model.started = make(chan string, 1)
	e.model.partial = true
	e.svc.StartWorkers()
	j := e.submit(t, e.alice, "slow", service.JobOptions{})
	<-e.model.started
	if c, err := e.svc.CancelJob(context.Background(), e.alice, j.ID); err != nil || c.Status != easel.JobRunning || !c.CancelRequested {
		t.Fatalf("CancelJob(running) = %+v, %v", c, err)
	}
	done := e.wait(t, e.alice, j.ID)
	if done.Status != easel.JobCanceled || len(done.ImageIDs) != 1 {
		t.Fatalf("canceled job = %s with %d images, want canceled with the 1 image returned", done.Status, len(done.ImageIDs))
	}
}

// Done when 6: user A queues many jobs, then user B one; B's job starts within the
// next --workers starts.
func TestWorkersAreFairBetweenUsers(t *testing.T) {
	const workers = 2
	e := newJobEnv(t, func(c *service.Config) {
		c.Jobs.Workers = workers
		c.Jobs.UserQueue = -1
	})
	for i := range 40 {
		e.submit(t, e.alice, "alice "+string(rune('a'+i%26)), service.JobOptions{})
	}
	bobs := e.submit(t, e.bob, "bob", service.JobOptions{})
	e.svc.StartWorkers()
	e.wait(t, e.bob, bobs.ID)
	got := e.model.calledWith()
	i := slices.Index(got, "bob")
	if i < 0 || i > workers {
		t.Fatalf("bob's job started as call %d of %v; want within the first %d", i, got, workers+1)
	}
}

func TestWatchJobResumesAfterLastEvent(t *testing.T) {
	e := newJobEnv(t, nil)
	e.svc.StartWorkers()
	j := e.submit(t, e.alice, "watched", service.JobOptions{})
	watch := func(after int) []int {
		var seqs []int
		err := e.svc.WatchJob(context.Background(), e.alice, j.ID, after, func(j *easel.Job) error {
			for _, ev := range j.Events {
				if ev.Seq > after {
					seqs = append(seqs, ev.Seq)
					after = ev.Seq
				}
			}
			return nil
		}, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	if got := watch(0); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("WatchJob(0) saw %v, want 1..4", got)
	}
	if got := watch(2); !slices.Equal(got, []int{3, 4}) {
		t.Errorf("WatchJob(2) saw %v, want 3, 4", got)
	}
}

// SIGTERM: running jobs that outlive the drain are handed back, and another instance
// finishes them; nothing is called twice that finished.
func TestDrainHandsRunningJobsBack(t *testing.T) {
	e := newJobEnv(t, nil)
	e.model.block = make(chan struct{})
	e.model.started = make(chan string, 1)
	e.svc.StartWorkers()
	j := e.submit(t, e.alice, "interrupted", service.JobOptions{})
	<-e.model.started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	e.svc.StopWorkers(ctx)
	cancel()
	back, err := e.svc.GetJob(context.Background(), e.alice, j.ID)
	if err != nil || back.Status != easel.JobQueued {
		t.Fatalf("after the drain the job is %v (%v), want queued", back.Status, err)
	}
	e.model.block, e.model.started = nil, nil
	next := e.newService(t)
	next.StartWorkers()
	done, err := next.WaitJob(context.Background(), e.alice, j.ID, 20*time.Second)
	if err != nil || done.Status != easel.JobSucceeded {
		t.Fatalf("the other instance ended the job %v (%v), want succeeded", done.Status, err)
	}
}

// Done when 1, in process: a job left running by a process that died runs again at
// once on the restarted one, without waiting for its lease.
func TestRecoverOnStartRunsAbandonedJobs(t *testing.T) {
	e := newJobEnv(t, nil)
	now := e.clock.Now().UTC().Truncate(time.Millisecond)
	j := &easel.Job{
		ID: easel.NewID(), UserID: "alice", Kind: easel.JobGenerate, CreatedAt: now, QueuedAt: now,
		Spec:   easel.JobSpec{Generate: &easel.GenerateRequest{Prompt: "orphan", Model: "fixed", N: 1, Width: 64, Height: 64, OutputFormat: "png", Seed: new(uint64)}},
		Status: easel.JobRunning, StartedAt: now, Attempts: 1,
		Lease: &easel.JobLease{Owner: "dead", Token: "t", Until: now.Add(time.Hour)},
	}
	j.Append(easel.EventJobQueued, now)
	j.Append(easel.EventJobRunning, now)
	if err := e.cat.CreateJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	e.cfg.Jobs.RecoverOnStart = true
	svc := e.newService(t)
	svc.StartWorkers()
	done, err := svc.WaitJob(context.Background(), e.alice, j.ID, 10*time.Second)
	if err != nil || done.Status != easel.JobSucceeded {
		t.Fatalf("abandoned job ended %v (%v), want succeeded", done.Status, err)
	}
	if done.Attempts != 2 {
		t.Errorf("Attempts = %d, want 2", done.Attempts)
	}
}

func TestReaperHandsBackStaleLeases(t *testing.T) {
	e := newJobEnv(t, nil)
	now := e.clock.Now().UTC().Truncate(time.Millisecond)
	j := &easel.Job{
		ID: easel.NewID(), UserID: "alice", Kind: easel.JobGenerate, CreatedAt: now, QueuedAt: now,
		Spec:   easel.JobSpec{Generate: &easel.GenerateRequest{Prompt: "stale", Model: "fixed", N: 1, Width: 64, Height: 64, OutputFormat: "png", Seed: new(uint64)}},
		Status: easel.JobRunning, StartedAt: now, Attempts: 1,
		Lease: &easel.JobLease{Owner: "dead", Token: "t", Until: now.Add(time.Minute)},
	}
	j.Append(easel.EventJobQueued, now)
	j.Append(easel.EventJobRunning, now)
	if err := e.cat.CreateJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	e.svc.StartWorkers()
	if err := e.svc.Reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.GetJob(context.Background(), e.alice, j.ID); got.Status != easel.JobRunning || got.Lease.Owner != "dead" {
		t.Fatalf("a live lease was taken over: %+v", got)
	}
	e.clock.Add(2 * time.Minute)
	if err := e.svc.Reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := e.wait(t, e.alice, j.ID)
	if done.Status != easel.JobSucceeded {
		t.Fatalf("stale job ended %s, want succeeded", done.Status)
	}
}

// Done when 4 (in process): a receiver failing its first 3 tries gets the 4th; the
// job is not held up by it.
func TestWebhookRetriedUntilDelivered(t *testing.T) {
	e := newJobEnv(t, nil)
	e.hooks.failN.Store(3)
	e.svc.StartWorkers()
	j := e.submit(t, e.alice, "hooked", service.JobOptions{Webhook: "https://hooks.example/easel"})
	done := e.wait(t, e.alice, j.ID)
	if done.Status != easel.JobSucceeded {
		t.Fatalf("job %s, want succeeded while its webhook fails", done.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.hooks.sent()) == 0 && time.Now().Before(deadline) {
		e.clock.Add(time.Hour) // past any backoff
		if err := e.svc.Reap(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := e.hooks.sent()
	if len(sent) != 1 || e.hooks.tries.Load() != 4 {
		t.Fatalf("webhook delivered %d times after %d tries, want 1 after 4", len(sent), e.hooks.tries.Load())
	}
	m := sent[0]
	if !strings.Contains(string(m.Body), `"type":"job.succeeded"`) || len(m.Keys) != 1 || !strings.HasPrefix(m.Keys[0], "whsec_") {
		t.Errorf("webhook = id %q keys %q body %s", m.ID, m.Keys, m.Body)
	}
	sec, err := e.svc.WebhookSecret(context.Background(), e.alice)
	if err != nil || sec.Key != m.Keys[0] {
		t.Errorf("WebhookSecret = %v, %v; want the key that signed", sec, err)
	}
	rot, err := e.svc.RotateWebhookSecret(context.Background(), e.alice)
	if err != nil || rot.Key == sec.Key || rot.Previous != sec.Key {
		t.Errorf("RotateWebhookSecret = %+v, %v", rot, err)
	}
}

func TestWebhookRefusedWithoutHTTPS(t *testing.T) {
	e := newJobEnv(t, nil)
	_, err := e.svc.Submit(context.Background(), e.alice, req("x"), service.JobOptions{Webhook: "http://127.0.0.1/"}, "", true)
	var ee *easel.Error
	if !errors.As(err, &ee) || ee.Param != "webhook" {
		t.Fatalf("Submit(webhook http://127.0.0.1/) = %v, want invalid_request on webhook", err)
	}
	if page, _ := e.svc.ListJobs(context.Background(), e.alice, nil, 10, ""); len(page.Jobs) != 0 {
		t.Errorf("a refused request left %d jobs", len(page.Jobs))
	}
}

// A throttled model puts the job back in the queue with a backoff; it does not fail.
func TestThrottledJobWaitsInTheQueue(t *testing.T) {
	e := newJobEnv(t, nil)
	e.model.failN.Store(1)
	e.model.failErr = &easel.Error{Code: easel.ERateLimited, Message: "throttled"}
	e.svc.StartWorkers()
	j := e.submit(t, e.alice, "throttled", service.JobOptions{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := e.svc.GetJob(context.Background(), e.alice, j.ID)
		if got.Status.Terminal() {
			if got.Status != easel.JobSucceeded {
				t.Fatalf("throttled job ended %s (%v), want succeeded", got.Status, got.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("throttled job still %s", got.Status)
		}
		e.clock.Add(2 * time.Minute) // past the backoff
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.model.calls.Load(); n != 2 {
		t.Errorf("model calls = %d, want 2 (throttled, then done)", n)
	}
}

func TestModelRateBudget(t *testing.T) {
	e := newJobEnv(t, func(c *service.Config) { c.Jobs.ModelRates = map[string]int{"fixed": 2} })
	e.svc.StartWorkers()
	var ids []string
	for i := range 3 {
		ids = append(ids, e.submit(t, e.alice, "budget "+string(rune('a'+i)), service.JobOptions{}).ID)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.model.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := e.model.calls.Load(); n != 2 {
		t.Fatalf("model calls in the first minute = %d, want 2", n)
	}
	// The third job waits in the queue for the next minute (its message is delayed in
	// real time); on this test's clock, that minute and the reaper's lost-message
	// delay pass at once, and the reaper sends it again.
	e.clock.Add(11 * time.Minute)
	if err := e.svc.Reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if j := e.wait(t, e.alice, id); j.Status != easel.JobSucceeded {
			t.Errorf("job %s ended %s", id, j.Status)
		}
	}
}

func TestUserQueueLimit(t *testing.T) {
	e := newJobEnv(t, func(c *service.Config) { c.Jobs.UserQueue = 2 })
	e.submit(t, e.alice, "one", service.JobOptions{})
	e.submit(t, e.alice, "two", service.JobOptions{})
	_, err := e.svc.Submit(context.Background(), e.alice, req("three"), service.JobOptions{}, "", true)
	var ee *easel.Error
	if !errors.As(err, &ee) || ee.Code != easel.ERateLimited || ee.RetryAfter <= 0 {
		t.Fatalf("third queued job = %v, want rate_limited with Retry-After", err)
	}
	e.submit(t, e.bob, "bob's own queue", service.JobOptions{})
}

func TestIdempotentAsyncReplay(t *testing.T) {
	e := newJobEnv(t, nil)
	first, err := e.svc.Submit(context.Background(), e.alice, req("once"), service.JobOptions{}, "key-1", true)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Submit(context.Background(), e.alice, req("once"), service.JobOptions{}, "key-1", true)
	if err != nil || again.Job.ID != first.Job.ID || !again.Replayed {
		t.Fatalf("replay = %+v, %v; want job %s replayed", again, err, first.Job.ID)
	}
	if _, err := e.svc.Submit(context.Background(), e.alice, req("other"), service.JobOptions{}, "key-1", true); !easel.IsCode(err, easel.EIdempotencyMismatch) {
		t.Errorf("same key, other body = %v, want idempotency_mismatch", err)
	}
	e.svc.StartWorkers()
	e.wait(t, e.alice, first.Job.ID)
	if n := e.model.calls.Load(); n != 1 {
		t.Errorf("model calls = %d, want 1", n)
	}
}

func TestJobsFailAfterMaxAttempts(t *testing.T) {
	e := newJobEnv(t, func(c *service.Config) { c.Jobs.MaxAttempts = 1 })
	now := e.clock.Now().UTC().Truncate(time.Millisecond)
	j := &easel.Job{
		ID: easel.NewID(), UserID: "alice", Kind: easel.JobGenerate, CreatedAt: now, QueuedAt: now,
		Spec:   easel.JobSpec{Generate: &easel.GenerateRequest{Prompt: "poison", Model: "fixed", N: 1, Width: 64, Height: 64, OutputFormat: "png", Seed: new(uint64)}},
		Status: easel.JobQueued, Attempts: 1,
	}
	j.Append(easel.EventJobQueued, now)
	if err := e.cat.CreateJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if err := e.queue.Send(context.Background(), easel.QueueMessage{JobID: j.ID, Group: "alice"}, 0); err != nil {
		t.Fatal(err)
	}
	e.svc.StartWorkers()
	done := e.wait(t, e.alice, j.ID)
	if done.Status != easel.JobFailed || !strings.Contains(done.Error.Message, "giving up") {
		t.Fatalf("job = %s %v, want failed, giving up", done.Status, done.Error)
	}
	if n := e.model.calls.Load(); n != 0 {
		t.Errorf("model calls = %d, want 0", n)
	}
}

// A message dead-lettered by the queue fails its job with a clear error.
func TestDeadLetteredJobFails(t *testing.T) {
	e := newJobEnv(t, nil)
	j := e.submit(t, e.alice, "dead", service.JobOptions{})
	q := e.cat.Queue(sqlitestore.QueueOptions{MaxReceives: 1, PollInterval: 50 * time.Millisecond})
	ctx := context.Background()
	for range 2 { // the second receive moves it to the dead letters
		ds, err := q.Receive(ctx, 10, 100*time.Millisecond, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		_ = ds
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.svc.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	done, err := e.svc.GetJob(ctx, e.alice, j.ID)
	if err != nil || done.Status != easel.JobFailed || !strings.Contains(done.Error.Message, "delivered") {
		t.Fatalf("dead-lettered job = %s %v (%v), want failed", done.Status, done.Error, err)
	}
}
