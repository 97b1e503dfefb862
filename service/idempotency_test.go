package service_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
)

// raceCatalog makes two retries read the same abandoned claim before either acts on
// it, then lets the first take the key over and call the model before the second goes
// on: the interleaving in which a take-over that is not conditional on the claim lets
// both retries pay for the model.
type raceCatalog struct {
	easel.Catalog
	key     string
	first   atomic.Int32
	arrived sync.WaitGroup
	proceed func() bool // the second retry waits for it
}

func (c *raceCatalog) BeginIdempotent(ctx context.Context, rec *easel.IdempotencyRecord) (*easel.IdempotencyRecord, error) {
	prev, err := c.Catalog.BeginIdempotent(ctx, rec)
	if rec.Key != c.key {
		return prev, err
	}
	switch c.first.Add(1) {
	case 1:
		c.arrived.Done()
		c.arrived.Wait()
	case 2:
		c.arrived.Done()
		c.arrived.Wait()
		for deadline := time.Now().Add(5 * time.Second); !c.proceed() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	return prev, err
}

// Two retries racing to take over a key abandoned by a crashed instance: one calls the
// model, the other gets 409, and a later retry gets the answer.
func TestRacingTakeOversCallTheModelOnce(t *testing.T) {
	ctx := context.Background()
	l := unlimited()
	l.GenerateTimeout = time.Minute
	e := newEnv(t, l)
	rc := &raceCatalog{Catalog: e.cat, key: "k", proceed: func() bool { return e.model.calls.Load() >= 1 }}
	rc.arrived.Add(2)
	svc, err := service.New(service.Config{
		Models: []easel.Model{e.model}, Catalog: rc, Blobs: e.blobs, Limits: l, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := req("abandoned")
	// The request's stored hash, as the crashed instance wrote it.
	if _, err := svc.Generate(ctx, e.alice, r, "warm-up"); err != nil {
		t.Fatal(err)
	}
	prev, _ := e.cat.BeginIdempotent(ctx, &easel.IdempotencyRecord{UserID: "alice", Key: "warm-up"})
	now := e.clock.Now().UTC().Truncate(time.Millisecond)
	if _, err := e.cat.BeginIdempotent(ctx, &easel.IdempotencyRecord{
		UserID: "alice", Key: "k", RequestHash: prev.RequestHash, State: easel.IdempotencyRunning,
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(3 * time.Minute) // past the lease (generate timeout + 1 min)
	e.model.calls.Store(0)
	e.model.wait = make(chan struct{})

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { _, errs[i] = svc.Generate(ctx, e.alice, r, "k") })
	}
	// Let the winner finish once both retries have acted.
	go func() {
		for rc.first.Load() < 2 || e.model.calls.Load() < 1 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		close(e.model.wait)
	}()
	wg.Wait()
	if n := e.model.calls.Load(); n != 1 {
		t.Errorf("model called %d times by two racing take-overs, want 1", n)
	}
	var ok, conflict int
	for _, err := range errs {
		switch easel.ErrorCode(err) {
		case "":
			ok++
		case easel.EConflict:
			conflict++
		default:
			t.Errorf("Generate = %v", err)
		}
	}
	if ok != 1 || conflict != 1 {
		t.Errorf("%d answers and %d conflicts, want 1 and 1", ok, conflict)
	}
	if again, err := svc.Generate(ctx, e.alice, r, "k"); err != nil || !again.Replayed {
		t.Errorf("retry after the race = %+v, %v; want a replay", again, err)
	}
}
