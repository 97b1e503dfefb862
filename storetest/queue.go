package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

// QueueHarness describes a Queue adapter to RunQueueTests.
type QueueHarness struct {
	// New returns a fresh, empty queue with a dead-letter queue (its cleanup registered
	// with t.Cleanup). It is called once per subtest.
	New func(t *testing.T) easel.Queue
	// MaxReceives is how many times the queue hands out a message: the Receive after
	// that moves it to the dead-letter queue instead.
	MaxReceives int
	// Tick is the shortest visibility timeout and delay the backend keeps to (SQS
	// counts in seconds: 1 s). The suite waits in multiples of it, and uses much longer
	// timeouts wherever a message must stay invisible, so a slow machine cannot make
	// a message reappear early.
	Tick time.Duration
}

// hidden is a visibility timeout or delay long enough that no test outlives it.
const hidden = 10 * time.Minute

// RunQueueTests runs the Queue conformance suite.
func RunQueueTests(t *testing.T, h QueueHarness) {
	t.Helper()
	if h.MaxReceives < 1 || h.Tick <= 0 {
		t.Fatalf("QueueHarness needs MaxReceives >= 1 and Tick > 0, got %+v", h)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, q *queueT)
	}{
		{"SendReceiveDelete", testSendReceiveDelete},
		{"Visibility", testVisibility},
		{"ExtendLonger", testExtendLonger},
		{"ExtendZero", testExtendZero},
		{"StaleReceipt", testStaleReceipt},
		{"Delay", testDelay},
		{"Max", testReceiveMax},
		{"EmptyWait", testEmptyWait},
		{"LongPollWakes", testLongPollWakes},
		{"Cancel", testReceiveCancel},
		{"DeadLetters", testDeadLetters},
		{"DeletedNeverDead", testDeletedNeverDead},
		{"ConcurrentReceivers", testConcurrentReceivers},
		{"Ping", testQueuePing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &queueT{Queue: h.New(t), h: h, t: t})
		})
	}
}

// queueT is a queue under test with helpers that fail the test on errors.
type queueT struct {
	easel.Queue
	h QueueHarness
	t *testing.T
}

// long is a long-poll wait that leaves time for any message due within a few ticks:
// 20 ticks, at most 20 s (SQS's longest wait).
func (q *queueT) long() time.Duration { return min(20*q.h.Tick, 20*time.Second) }

func (q *queueT) send(user string, delay time.Duration) easel.QueueMessage {
	q.t.Helper()
	m := easel.QueueMessage{JobID: easel.NewID(), Group: user}
	checkCode(q.t, "Send", q.Send(q.t.Context(), m, delay), "")
	return m
}

func (q *queueT) receive(max int, wait, visibility time.Duration) []*easel.Delivery {
	q.t.Helper()
	ds, err := q.Receive(q.t.Context(), max, wait, visibility)
	checkCode(q.t, "Receive", err, "")
	if len(ds) > max {
		q.t.Fatalf("Receive(max %d) returned %d messages", max, len(ds))
	}
	return ds
}

// receiveOne long-polls for exactly one message and checks it is m.
func (q *queueT) receiveOne(m easel.QueueMessage, visibility time.Duration, count int) *easel.Delivery {
	q.t.Helper()
	ds := q.receive(10, q.long(), visibility)
	if len(ds) != 1 || ds[0].QueueMessage != m {
		q.t.Fatalf("Receive = %v, want exactly %+v", deliveries(ds), m)
	}
	d := ds[0]
	if d.ReceiveCount != count || d.Receipt == "" || d.Dead {
		q.t.Errorf("Receive = count %d, receipt %q, dead %v; want count %d, a receipt, not dead", d.ReceiveCount, d.Receipt, d.Dead, count)
	}
	return d
}

// receiveNone checks that no message is received within wait.
func (q *queueT) receiveNone(wait time.Duration, why string) {
	q.t.Helper()
	if ds := q.receive(10, wait, hidden); len(ds) != 0 {
		q.t.Fatalf("Receive %s = %v, want nothing", why, deliveries(ds))
	}
}

func deliveries(ds []*easel.Delivery) []string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("{%s %s count %d dead %v}", d.JobID, d.Group, d.ReceiveCount, d.Dead)
	}
	return s
}

func testSendReceiveDelete(t *testing.T, q *queueT) {
	ctx := t.Context()
	sent := time.Now()
	m := q.send("user-a", 0)
	d := q.receiveOne(m, q.h.Tick, 1)
	if d.SentAt.Before(sent.Add(-5*time.Second)) || d.SentAt.After(time.Now().Add(5*time.Second)) {
		t.Errorf("SentAt = %v, want about %v", d.SentAt, sent)
	}
	checkCode(t, "Delete", q.Delete(ctx, d), "")
	checkCode(t, "Delete(again)", q.Delete(ctx, d), "")
	// Its visibility timeout passes: a deleted message does not come back.
	q.receiveNone(5*q.h.Tick, "after Delete")
	checkCode(t, "Extend(deleted)", q.Extend(ctx, d, hidden), easel.ENotFound)
}

func testVisibility(t *testing.T, q *queueT) {
	m := q.send("user-a", 0)
	d1 := q.receiveOne(m, q.h.Tick, 1)
	// Not deleted: it comes back once its visibility timeout passes, with a new receipt.
	d2 := q.receiveOne(m, hidden, 2)
	if d2.Receipt == d1.Receipt {
		t.Errorf("second receipt %q = the first, want a new one per receive", d2.Receipt)
	}
	if !d2.SentAt.Equal(d1.SentAt) {
		t.Errorf("SentAt changed between receipts: %v, then %v", d1.SentAt, d2.SentAt)
	}
	q.receiveNone(3*q.h.Tick, "while the message is invisible")
}

func testExtendLonger(t *testing.T, q *queueT) {
	m := q.send("user-a", 0)
	d := q.receiveOne(m, 3*q.h.Tick, 1)
	checkCode(t, "Extend(longer)", q.Extend(t.Context(), d, hidden), "")
	q.receiveNone(6*q.h.Tick, "after Extend past the first timeout")
	checkCode(t, "Extend(0)", q.Extend(t.Context(), d, 0), "")
	q.receiveOne(m, hidden, 2)
}

func testExtendZero(t *testing.T, q *queueT) {
	m := q.send("user-a", 0)
	q.send("user-b", hidden) // delayed: never among the answers below
	d := q.receiveOne(m, hidden, 1)
	// Handing a message back makes it visible at once, and wakes a waiting receiver.
	checkCode(t, "Extend(0)", q.Extend(t.Context(), d, 0), "")
	d2 := q.receiveOne(m, hidden, 2)
	checkCode(t, "Delete", q.Delete(t.Context(), d2), "")
}

func testStaleReceipt(t *testing.T, q *queueT) {
	ctx := t.Context()
	m := q.send("user-a", 0)
	d1 := q.receiveOne(m, q.h.Tick, 1)
	d2 := q.receiveOne(m, hidden, 2)
	// The first receiver's receipt is stale: it may no longer steer the message.
	checkCode(t, "Extend(stale receipt)", q.Extend(ctx, d1, 0), easel.ENotFound)
	q.receiveNone(3*q.h.Tick, "after Extend with a stale receipt")
	checkCode(t, "Extend(current receipt)", q.Extend(ctx, d2, hidden), "")
	checkCode(t, "Delete(current receipt)", q.Delete(ctx, d2), "")
	checkCode(t, "Delete(stale receipt)", q.Delete(ctx, d1), "")
	checkCode(t, "Extend(deleted)", q.Extend(ctx, d2, hidden), easel.ENotFound)
}

func testDelay(t *testing.T, q *queueT) {
	q.send("user-a", hidden)
	soon := q.send("user-a", 2*q.h.Tick)
	// The short delay passes within the long poll; the long one does not.
	d := q.receiveOne(soon, hidden, 1)
	checkCode(t, "Delete", q.Delete(t.Context(), d), "")
	q.receiveNone(2*q.h.Tick, "while a message is delayed")
}

func testReceiveMax(t *testing.T, q *queueT) {
	const n = 7
	want := map[string]bool{}
	for range n {
		want[q.send("user-a", 0).JobID] = true
	}
	got := map[string]bool{}
	receipts := map[string]bool{}
	for tries := 0; len(got) < n; tries++ {
		if tries > 20 {
			t.Fatalf("received %d of %d messages after %d tries", len(got), n, tries)
		}
		for _, d := range q.receive(3, q.long(), hidden) {
			if got[d.JobID] {
				t.Fatalf("message %s received twice while invisible", d.JobID)
			}
			if receipts[d.Receipt] {
				t.Fatalf("receipt %q handed out twice", d.Receipt)
			}
			got[d.JobID], receipts[d.Receipt] = true, true
			if !want[d.JobID] {
				t.Fatalf("received %s, which was never sent", d.JobID)
			}
		}
	}
	q.receiveNone(0, "after every message was received")
}

func testEmptyWait(t *testing.T, q *queueT) {
	start := time.Now()
	q.receiveNone(0, "with no wait, from an empty queue")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Receive with no wait took %v", d)
	}
	q.receiveNone(2*q.h.Tick, "from an empty queue")
}

func testLongPollWakes(t *testing.T, q *queueT) {
	wait := q.long()
	type result struct {
		ds  []*easel.Delivery
		err error
		in  time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		ds, err := q.Receive(t.Context(), 1, wait, hidden)
		done <- result{ds, err, time.Since(start)}
	}()
	time.Sleep(wait / 10)
	m := q.send("user-a", 0)
	r := <-done
	checkCode(t, "Receive", r.err, "")
	if len(r.ds) != 1 || r.ds[0].QueueMessage != m {
		t.Fatalf("waiting Receive = %v, want the message sent meanwhile (%s)", deliveries(r.ds), m.JobID)
	}
	if r.in >= wait*3/4 {
		t.Errorf("waiting Receive returned after %v of its %v wait; want it to wake when the message arrives", r.in, wait)
	}
}

func testReceiveCancel(t *testing.T, q *queueT) {
	ctx, cancel := context.WithCancel(t.Context())
	wait := q.long()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ds, err := q.Receive(ctx, 10, wait, hidden)
		if len(ds) != 0 {
			err = fmt.Errorf("received %v", deliveries(ds))
		}
		done <- err
	}()
	time.Sleep(wait / 10)
	cancel()
	err := <-done
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Receive canceled = %v, want nil or context.Canceled", err)
	}
	if in := time.Since(start); in >= wait*3/4 {
		t.Errorf("canceled Receive returned after %v of its %v wait; want it to return when canceled", in, wait)
	}
}

// receiveDead polls the dead-letter queue until it returns something or the long wait
// passes (dead-letter queues are not long-polled).
func (q *queueT) receiveDead(visibility time.Duration) []*easel.Delivery {
	q.t.Helper()
	deadline := time.Now().Add(q.long())
	for {
		ds, err := q.ReceiveDead(q.t.Context(), 10, visibility)
		checkCode(q.t, "ReceiveDead", err, "")
		if len(ds) > 0 || time.Now().After(deadline) {
			return ds
		}
		time.Sleep(q.h.Tick / 2)
	}
}

func testDeadLetters(t *testing.T, q *queueT) {
	ctx := t.Context()
	if ds, err := q.ReceiveDead(ctx, 10, hidden); err != nil || len(ds) != 0 {
		t.Fatalf("ReceiveDead of an empty queue = %v, %v; want nothing", deliveries(ds), err)
	}
	m := q.send("user-a", 0)
	for i := range q.h.MaxReceives {
		d := q.receiveOne(m, hidden, i+1)
		checkCode(t, "Extend(0)", q.Extend(ctx, d, 0), "")
	}
	// Received MaxReceives times and never deleted: the next Receive moves it.
	q.receiveNone(2*q.h.Tick, fmt.Sprintf("after %d receives", q.h.MaxReceives))
	ds := q.receiveDead(hidden)
	if len(ds) != 1 || ds[0].QueueMessage != m || !ds[0].Dead || ds[0].Receipt == "" {
		t.Fatalf("ReceiveDead = %v, want exactly %+v, dead, with a receipt", deliveries(ds), m)
	}
	dead := ds[0]
	// A dead delivery is invisible for its timeout, and may be handed back.
	if ds, err := q.ReceiveDead(ctx, 10, hidden); err != nil || len(ds) != 0 {
		t.Fatalf("ReceiveDead while the dead message is invisible = %v, %v; want nothing", deliveries(ds), err)
	}
	checkCode(t, "Extend(dead, 0)", q.Extend(ctx, dead, 0), "")
	ds = q.receiveDead(hidden)
	if len(ds) != 1 || ds[0].JobID != m.JobID || !ds[0].Dead {
		t.Fatalf("ReceiveDead after handing back = %v, want %s again", deliveries(ds), m.JobID)
	}
	checkCode(t, "Delete(dead)", q.Delete(ctx, ds[0]), "")
	checkCode(t, "Delete(dead, again)", q.Delete(ctx, ds[0]), "")
	time.Sleep(2 * q.h.Tick)
	if ds, err := q.ReceiveDead(ctx, 10, hidden); err != nil || len(ds) != 0 {
		t.Errorf("ReceiveDead after Delete = %v, %v; want nothing", deliveries(ds), err)
	}
	q.receiveNone(0, "after the dead message was deleted")
}

func testDeletedNeverDead(t *testing.T, q *queueT) {
	ctx := t.Context()
	m := q.send("user-a", 0)
	for i := range q.h.MaxReceives - 1 {
		d := q.receiveOne(m, hidden, i+1)
		checkCode(t, "Extend(0)", q.Extend(ctx, d, 0), "")
	}
	d := q.receiveOne(m, hidden, q.h.MaxReceives)
	checkCode(t, "Delete", q.Delete(ctx, d), "")
	q.receiveNone(2*q.h.Tick, "after Delete")
	if ds, err := q.ReceiveDead(ctx, 10, hidden); err != nil || len(ds) != 0 {
		t.Errorf("ReceiveDead = %v, %v; want nothing (the message was deleted at its last receive)", deliveries(ds), err)
	}
}

func testConcurrentReceivers(t *testing.T, q *queueT) {
	const (
		messages  = 30
		receivers = 4
	)
	var sent []string
	for i := range messages {
		sent = append(sent, q.send(fmt.Sprint("user-", i%3), 0).JobID)
	}
	var (
		mu   sync.Mutex
		got  []string
		errs []error
		wg   sync.WaitGroup
	)
	// Generous: the loop ends as soon as every message is in.
	deadline := time.Now().Add(max(q.long(), 30*time.Second))
	for range receivers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				mu.Lock()
				finished := len(got) >= messages
				mu.Unlock()
				if finished {
					return
				}
				ds, err := q.Receive(t.Context(), 10, 2*q.h.Tick, hidden)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, d := range ds {
					got = append(got, d.JobID)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("concurrent Receive: %v", err)
	}
	slices.Sort(got)
	slices.Sort(sent)
	if !slices.Equal(got, sent) {
		t.Errorf("%d receivers got %d messages %v, want each of the %d sent exactly once", receivers, len(got), got, messages)
	}
}

func testQueuePing(t *testing.T, q *queueT) {
	checkCode(t, "Ping", q.Ping(t.Context()), "")
}
