package sqlitestore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/sqlitestore"
	"github.com/easelhq/easel/storetest"
)

func TestQueueConformance(t *testing.T) {
	storetest.RunQueueTests(t, storetest.QueueHarness{
		New: func(t *testing.T) easel.Queue {
			// A poll interval longer than any test: every wake-up must come from a Send or
			// Extend through the Store, or from the due time of a delayed or invisible message.
			return open(t, tempPath(t)).Queue(sqlitestore.QueueOptions{MaxReceives: 3, PollInterval: time.Hour})
		},
		MaxReceives: 3,
		Tick:        100 * time.Millisecond,
	})
}

// TestQueueAcrossHandles sends through one handle of the file and receives through
// another, as a CLI command and the server would: the waiting receiver finds the
// message within its poll interval.
func TestQueueAcrossHandles(t *testing.T) {
	path := tempPath(t)
	opts := sqlitestore.QueueOptions{PollInterval: 100 * time.Millisecond}
	a, b := open(t, path).Queue(opts), open(t, path).Queue(opts)
	got := make(chan []*easel.Delivery, 1)
	go func() {
		ds, err := b.Receive(t.Context(), 1, 10*time.Second, time.Minute)
		if err != nil {
			t.Errorf("Receive = %v", err)
		}
		got <- ds
	}()
	time.Sleep(200 * time.Millisecond)
	m := easel.QueueMessage{JobID: easel.NewID(), Group: "user-a"}
	start := time.Now()
	if err := a.Send(t.Context(), m, 0); err != nil {
		t.Fatal(err)
	}
	ds := <-got
	if len(ds) != 1 || ds[0].QueueMessage != m {
		t.Fatalf("Receive through the other handle = %+v, want %+v", ds, m)
	}
	if in := time.Since(start); in > 5*time.Second {
		t.Errorf("the other handle's receiver took %v to see the message, want about its poll interval", in)
	}
}

// TestQueueNames checks that queues in one file are separate.
func TestQueueNames(t *testing.T) {
	s := open(t, tempPath(t))
	jobs, thumbs := s.Queue(sqlitestore.QueueOptions{}), s.Queue(sqlitestore.QueueOptions{Name: "thumbs"})
	m := easel.QueueMessage{JobID: easel.NewID()}
	if err := thumbs.Send(t.Context(), m, 0); err != nil {
		t.Fatal(err)
	}
	if ds, err := jobs.Receive(t.Context(), 10, 0, time.Minute); err != nil || len(ds) != 0 {
		t.Errorf("Receive of another queue = %v, %v; want nothing", ds, err)
	}
	ds, err := thumbs.Receive(t.Context(), 10, 0, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Receive = %v, %v; want the message", ds, err)
	}
	if err := jobs.Extend(t.Context(), ds[0], 0); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("Extend through another queue = %v, want not found", err)
	}
	if st, err := thumbs.Stats(t.Context()); err != nil || st != (sqlitestore.QueueStats{Invisible: 1}) {
		t.Errorf("Stats = %+v, %v; want one invisible message", st, err)
	}
}

// TestQueueIdleDoesNotSpin counts the reads of receivers waiting on an empty queue.
func TestQueueIdleDoesNotSpin(t *testing.T) {
	s := open(t, tempPath(t))
	q := s.Queue(sqlitestore.QueueOptions{PollInterval: 200 * time.Millisecond})
	var wg sync.WaitGroup
	var polls atomic.Int64
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = q.Receive(ctx, 10, time.Second, time.Minute)
				polls.Add(1)
			}
		})
	}
	wg.Wait()
	looks := sqlitestore.QueueLooks(q)
	// 4 receivers × 2 s / 200 ms = 40 looks, plus one per Receive call (8 or so).
	if looks > 80 {
		t.Errorf("4 idle receivers looked at the queue %d times in 2 s (%d Receive calls), want about 50", looks, polls.Load())
	}
}

// BenchmarkQueueSendReceiveDelete measures one message's whole trip through the queue.
func BenchmarkQueueSendReceiveDelete(b *testing.B) {
	q := open(b, tempPath(b)).Queue(sqlitestore.QueueOptions{})
	ctx := b.Context()
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; b.Loop(); i++ {
		if err := q.Send(ctx, easel.QueueMessage{JobID: fmt.Sprint("job-", i), Group: "user-a"}, 0); err != nil {
			b.Fatal(err)
		}
		ds, err := q.Receive(ctx, 1, time.Second, time.Minute)
		if err != nil || len(ds) != 1 {
			b.Fatalf("Receive = %d, %v", len(ds), err)
		}
		if err := q.Delete(ctx, ds[0]); err != nil {
			b.Fatal(err)
		}
	}
	cpuPerOp(b, start)
}

// BenchmarkQueueParallel runs 4 senders and 4 receivers (batches of up to 10) on one
// queue, as an API instance and its workers do; each op is one message sent, received
// and deleted.
func BenchmarkQueueParallel(b *testing.B) {
	q := open(b, tempPath(b)).Queue(sqlitestore.QueueOptions{})
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var received atomic.Int64
	target := int64(b.N)
	done := make(chan struct{})
	var wg sync.WaitGroup
	b.ResetTimer()
	start := cpuTime()
	for range 4 {
		wg.Go(func() {
			for {
				ds, err := q.Receive(ctx, 10, time.Second, time.Minute)
				if err != nil {
					return
				}
				for _, d := range ds {
					if err := q.Delete(ctx, d); err != nil {
						return
					}
					if received.Add(1) == target {
						close(done)
					}
				}
			}
		})
	}
	var next atomic.Int64
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1); i <= target; i = next.Add(1) {
				if err := q.Send(ctx, easel.QueueMessage{JobID: fmt.Sprint("job-", i), Group: "user-a"}, 0); err != nil {
					return
				}
			}
		})
	}
	<-done
	b.StopTimer()
	cpuPerOp(b, start)
	cancel()
	wg.Wait()
}

// TestQueueIsFairBetweenGroups: a group with messages in flight does not keep another
// group's message waiting behind its backlog, and a batch takes turns between groups.
func TestQueueIsFairBetweenGroups(t *testing.T) {
	ctx := t.Context()
	q := open(t, tempPath(t)).Queue(sqlitestore.QueueOptions{PollInterval: time.Hour})
	send := func(group string, n int) {
		for i := range n {
			if err := q.Send(ctx, easel.QueueMessage{JobID: fmt.Sprintf("%s-%02d", group, i), Group: group}, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	send("a", 30)
	if ds, err := q.Receive(ctx, 5, 0, time.Hour); err != nil || len(ds) != 5 {
		t.Fatalf("Receive(5) = %d messages, %v", len(ds), err)
	}
	send("b", 1)
	ds, err := q.Receive(ctx, 1, 0, time.Hour)
	if err != nil || len(ds) != 1 || ds[0].Group != "b" {
		t.Fatalf("with 5 of a's in flight, Receive(1) = %v, %v; want b's message", ds, err)
	}
	send("c", 3)
	send("d", 3)
	ds, err = q.Receive(ctx, 4, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]int{}
	for _, d := range ds {
		groups[d.Group]++
	}
	if groups["c"] != 2 || groups["d"] != 2 {
		t.Errorf("Receive(4) with c and d waiting = groups %v, want 2 of c and 2 of d (a has 5 in flight)", groups)
	}
}

func TestQueueReleaseInFlight(t *testing.T) {
	ctx := t.Context()
	q := open(t, tempPath(t)).Queue(sqlitestore.QueueOptions{PollInterval: time.Hour})
	for i := range 3 {
		if err := q.Send(ctx, easel.QueueMessage{JobID: fmt.Sprint(i), Group: "g"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Send(ctx, easel.QueueMessage{JobID: "later", Group: "g"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ds, err := q.Receive(ctx, 2, 0, time.Hour); err != nil || len(ds) != 2 {
		t.Fatalf("Receive(2) = %d, %v", len(ds), err)
	}
	if n, err := q.ReleaseInFlight(ctx); err != nil || n != 2 {
		t.Fatalf("ReleaseInFlight = %d, %v; want the 2 received", n, err)
	}
	ds, err := q.Receive(ctx, 10, 0, time.Hour)
	if err != nil || len(ds) != 3 {
		t.Fatalf("after the release Receive = %d messages, %v; want 3 (the delayed one stays delayed)", len(ds), err)
	}
}
