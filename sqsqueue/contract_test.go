package sqsqueue_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/sqsqueue"
	"github.com/easelhq/easel/sqsqueue/sqstest"
)

// These tests hold the adapter to the easel.Queue contract (its doc comments), the
// way storetest.RunQueueTests will: at SQS's one-second resolution.

const (
	shortVis = time.Second // the shortest visibility SQS knows
	longVis  = time.Minute
	slack    = 300 * time.Millisecond
)

// harness opens a fresh queue whose dead-letter limit is maxReceives.
type harness func(t *testing.T, maxReceives int) easel.Queue

func TestContractNativeRedrive(t *testing.T) {
	runContract(t, func(t *testing.T, maxReceives int) easel.Queue {
		return newEnv(t, true, maxReceives).open(t, true, maxReceives)
	})
}

func TestContractAdapterRedrive(t *testing.T) {
	runContract(t, func(t *testing.T, maxReceives int) easel.Queue {
		return newEnv(t, false, maxReceives).open(t, false, maxReceives)
	})
}

func runContract(t *testing.T, open harness) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, harness)
	}{
		{"SendReceiveDelete", testSendReceiveDelete},
		{"VisibilityTimeout", testVisibilityTimeout},
		{"ExtendLonger", testExtendLonger},
		{"ExtendZeroHandsBack", testExtendZero},
		{"StaleReceipt", testStaleReceipt},
		{"ExtendDeleted", testExtendDeleted},
		{"LongPollReturnsEarly", testLongPollEarly},
		{"WaitPasses", testWaitPasses},
		{"Delay", testDelay},
		{"Max", testMax},
		{"DeadLetters", testDeadLetters},
		{"ConcurrentReceivers", testConcurrentReceivers},
		{"ContextCanceled", testContextCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

func mustSend(t *testing.T, q easel.Queue, job, group string, delay time.Duration) {
	t.Helper()
	if err := q.Send(context.Background(), easel.QueueMessage{JobID: job, Group: group}, delay); err != nil {
		t.Fatalf("Send(%s) = %v", job, err)
	}
}

func mustReceive(t *testing.T, q easel.Queue, max int, wait, vis time.Duration) []*easel.Delivery {
	t.Helper()
	ds, err := q.Receive(context.Background(), max, wait, vis)
	if err != nil {
		t.Fatalf("Receive = %v", err)
	}
	return ds
}

func jobs(ds []*easel.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.JobID)
	}
	slices.Sort(out)
	return out
}

func testSendReceiveDelete(t *testing.T, open harness) {
	q := open(t, 5)
	ctx := context.Background()
	before := time.Now().Add(-slack)
	mustSend(t, q, "j1", "alice", 0)
	mustSend(t, q, "j2", "bob", 0)
	after := time.Now().Add(slack)
	var got []*easel.Delivery
	for len(got) < 2 {
		ds := mustReceive(t, q, 10, 2*time.Second, longVis)
		if len(ds) == 0 {
			t.Fatalf("Receive got %d of 2 messages", len(got))
		}
		got = append(got, ds...)
	}
	if !slices.Equal(jobs(got), []string{"j1", "j2"}) {
		t.Fatalf("Receive = %v, want j1 and j2", jobs(got))
	}
	for _, d := range got {
		want := map[string]string{"j1": "alice", "j2": "bob"}[d.JobID]
		if d.Group != want || d.ReceiveCount != 1 || d.Receipt == "" || d.Dead ||
			d.SentAt.Before(before) || d.SentAt.After(after) {
			t.Errorf("Delivery = %+v, want group %s, count 1, a receipt and SentAt between %v and %v", d, want, before, after)
		}
		if err := q.Delete(ctx, d); err != nil {
			t.Errorf("Delete(%s) = %v", d.JobID, err)
		}
		if err := q.Delete(ctx, d); err != nil {
			t.Errorf("Delete(%s) again = %v, want nil", d.JobID, err)
		}
	}
	if ds := mustReceive(t, q, 10, shortVis, shortVis); len(ds) != 0 {
		t.Errorf("after Delete, Receive = %v, want none", jobs(ds))
	}
	if err := q.Ping(ctx); err != nil {
		t.Errorf("Ping = %v", err)
	}
}

func testVisibilityTimeout(t *testing.T, open harness) {
	q := open(t, 5)
	mustSend(t, q, "j1", "alice", 0)
	first := mustReceive(t, q, 1, time.Second, shortVis)
	if len(first) != 1 {
		t.Fatalf("Receive = %d messages, want 1", len(first))
	}
	if ds := mustReceive(t, q, 1, 0, shortVis); len(ds) != 0 {
		t.Errorf("an invisible message was received: %v", jobs(ds))
	}
	again := mustReceive(t, q, 1, shortVis+2*slack+time.Second, longVis)
	if len(again) != 1 || again[0].JobID != "j1" || again[0].ReceiveCount != 2 || again[0].Receipt == first[0].Receipt {
		t.Fatalf("after the visibility timeout Receive = %+v, want j1 again, count 2, a new receipt", again)
	}
	if !again[0].SentAt.Equal(first[0].SentAt) {
		t.Errorf("SentAt changed between receipts: %v, then %v", first[0].SentAt, again[0].SentAt)
	}
}

func testExtendLonger(t *testing.T, open harness) {
	q := open(t, 5)
	ctx := context.Background()
	mustSend(t, q, "j1", "alice", 0)
	ds := mustReceive(t, q, 1, time.Second, shortVis)
	if len(ds) != 1 {
		t.Fatalf("Receive = %d messages", len(ds))
	}
	if err := q.Extend(ctx, ds[0], 4*time.Second); err != nil {
		t.Fatalf("Extend = %v", err)
	}
	if got := mustReceive(t, q, 1, shortVis+slack+time.Second, shortVis); len(got) != 0 {
		t.Errorf("an extended message came back after its first timeout: %v", jobs(got))
	}
	if err := q.Extend(ctx, ds[0], longVis); err != nil {
		t.Errorf("Extend again = %v", err)
	}
	if err := q.Delete(ctx, ds[0]); err != nil {
		t.Errorf("Delete after Extend = %v", err)
	}
}

func testExtendZero(t *testing.T, open harness) {
	q := open(t, 5)
	mustSend(t, q, "j1", "alice", 0)
	ds := mustReceive(t, q, 1, time.Second, longVis)
	if len(ds) != 1 {
		t.Fatalf("Receive = %d messages", len(ds))
	}
	if err := q.Extend(context.Background(), ds[0], 0); err != nil {
		t.Fatalf("Extend(0) = %v", err)
	}
	start := time.Now()
	got := mustReceive(t, q, 1, 2*time.Second, longVis)
	if len(got) != 1 || got[0].ReceiveCount != 2 || time.Since(start) > time.Second {
		t.Errorf("after Extend(0), Receive = %+v after %v, want j1 at once with count 2", got, time.Since(start))
	}
}

func testStaleReceipt(t *testing.T, open harness) {
	q := open(t, 5)
	ctx := context.Background()
	mustSend(t, q, "j1", "alice", 0)
	old := mustReceive(t, q, 1, time.Second, shortVis)
	if len(old) != 1 {
		t.Fatalf("Receive = %d messages", len(old))
	}
	cur := mustReceive(t, q, 1, 3*time.Second, longVis)
	if len(cur) != 1 {
		t.Fatalf("re-delivery: Receive = %d messages", len(cur))
	}
	if err := q.Extend(ctx, old[0], longVis); !easel.IsCode(err, easel.ENotFound) {
		t.Errorf("Extend(stale receipt) = %v, want ENotFound", err)
	}
	if err := q.Delete(ctx, old[0]); err != nil {
		t.Errorf("Delete(stale receipt) = %v, want nil", err)
	}
	if err := q.Extend(ctx, cur[0], longVis); err != nil {
		t.Errorf("Extend(current receipt) = %v: a stale Delete must not remove the message", err)
	}
}

func testExtendDeleted(t *testing.T, open harness) {
	q := open(t, 5)
	ctx := context.Background()
	mustSend(t, q, "j1", "alice", 0)
	ds := mustReceive(t, q, 1, time.Second, longVis)
	if len(ds) != 1 {
		t.Fatalf("Receive = %d messages", len(ds))
	}
	if err := q.Delete(ctx, ds[0]); err != nil {
		t.Fatal(err)
	}
	if err := q.Extend(ctx, ds[0], longVis); !easel.IsCode(err, easel.ENotFound) {
		t.Errorf("Extend(deleted) = %v, want ENotFound", err)
	}
}

func testLongPollEarly(t *testing.T, open harness) {
	q := open(t, 5)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = q.Send(context.Background(), easel.QueueMessage{JobID: "late", Group: "alice"}, 0)
	}()
	start := time.Now()
	ds := mustReceive(t, q, 10, 10*time.Second, longVis)
	if len(ds) != 1 || ds[0].JobID != "late" || time.Since(start) > 3*time.Second {
		t.Errorf("Receive(wait 10s) = %v after %v, want the message soon after its send", jobs(ds), time.Since(start))
	}
}

func testWaitPasses(t *testing.T, open harness) {
	q := open(t, 5)
	start := time.Now()
	ds, err := q.Receive(context.Background(), 10, 1500*time.Millisecond, longVis)
	if err != nil || ds == nil || len(ds) != 0 {
		t.Errorf("Receive on an empty queue = %v, %v; want an empty slice, not nil, and no error", ds, err)
	}
	if d := time.Since(start); d < 1500*time.Millisecond || d > 4*time.Second {
		t.Errorf("Receive(wait 1.5s) took %v", d)
	}
}

func testDelay(t *testing.T, open harness) {
	q := open(t, 5)
	start := time.Now()
	mustSend(t, q, "later", "alice", 1500*time.Millisecond)
	if ds := mustReceive(t, q, 1, 0, longVis); len(ds) != 0 {
		t.Fatalf("a delayed message was received at once")
	}
	ds := mustReceive(t, q, 1, 5*time.Second, longVis)
	if len(ds) != 1 || time.Since(start) < 1500*time.Millisecond {
		t.Errorf("Receive = %v after %v, want the message after its 1.5 s delay", jobs(ds), time.Since(start))
	}
}

func testMax(t *testing.T, open harness) {
	q := open(t, 5)
	for i := range 15 {
		mustSend(t, q, fmt.Sprintf("j%02d", i), "alice", 0)
	}
	if ds := mustReceive(t, q, 4, time.Second, longVis); len(ds) < 1 || len(ds) > 4 {
		t.Errorf("Receive(max 4) = %d messages", len(ds))
	}
	if ds := mustReceive(t, q, 100, time.Second, longVis); len(ds) < 1 || len(ds) > 100 {
		t.Errorf("Receive(max 100) = %d messages", len(ds))
	}
	if _, err := q.Receive(context.Background(), 0, 0, longVis); err == nil {
		t.Errorf("Receive(max 0) = nil error, want one")
	}
}

func testDeadLetters(t *testing.T, open harness) {
	const maxReceives = 2
	q := open(t, maxReceives)
	ctx := context.Background()
	if ds, err := q.ReceiveDead(ctx, 10, longVis); err != nil || len(ds) != 0 {
		t.Fatalf("ReceiveDead on an empty dead-letter queue = %v, %v", ds, err)
	}
	before := time.Now().Add(-slack)
	mustSend(t, q, "poison", "alice", 0)
	mustSend(t, q, "fine", "bob", 0)
	for i := 1; i <= maxReceives; i++ {
		var poison *easel.Delivery
		for _, d := range mustReceive(t, q, 10, 2*time.Second, longVis) {
			if d.JobID == "poison" {
				poison = d
			} else if err := q.Delete(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		if poison == nil || poison.ReceiveCount != i {
			t.Fatalf("receive %d = %+v, want poison with count %d", i, poison, i)
		}
		if err := q.Extend(ctx, poison, 0); err != nil {
			t.Fatal(err)
		}
	}
	if ds := mustReceive(t, q, 10, 1500*time.Millisecond, longVis); len(ds) != 0 {
		t.Fatalf("receive %d = %v, want none: the message is dead", maxReceives+1, jobs(ds))
	}
	var dead []*easel.Delivery
	for range 3 {
		ds, err := q.ReceiveDead(ctx, 10, longVis)
		if err != nil {
			t.Fatalf("ReceiveDead = %v", err)
		}
		if dead = ds; len(dead) > 0 {
			break
		}
	}
	if len(dead) != 1 {
		t.Fatalf("ReceiveDead = %d messages, want 1", len(dead))
	}
	d := dead[0]
	if d.JobID != "poison" || d.Group != "alice" || !d.Dead || d.ReceiveCount <= maxReceives || d.SentAt.Before(before) {
		t.Errorf("dead Delivery = %+v, want poison, Dead, counted past %d, sent after %v", d, maxReceives, before)
	}
	if err := q.Extend(ctx, d, longVis); err != nil {
		t.Errorf("Extend(dead) = %v", err)
	}
	if ds, _ := q.ReceiveDead(ctx, 10, longVis); len(ds) != 0 {
		t.Errorf("an invisible dead message was received again")
	}
	if err := q.Delete(ctx, d); err != nil {
		t.Errorf("Delete(dead) = %v", err)
	}
	if err := q.Extend(ctx, d, longVis); !easel.IsCode(err, easel.ENotFound) {
		t.Errorf("Extend(deleted dead) = %v, want ENotFound", err)
	}
	if err := q.Extend(ctx, d, 0); !easel.IsCode(err, easel.ENotFound) {
		t.Errorf("Extend(deleted dead, 0) = %v, want ENotFound", err)
	}
}

func testConcurrentReceivers(t *testing.T, open harness) {
	q := open(t, 5)
	const n = 40
	for i := range n {
		mustSend(t, q, fmt.Sprintf("j%02d", i), fmt.Sprintf("user%d", i%4), 0)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				ds, err := q.Receive(context.Background(), 10, time.Second, longVis)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.JobID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("received %d distinct jobs, want %d", len(seen), n)
	}
	for j, k := range seen {
		if k != 1 {
			t.Errorf("job %s was received %d times while invisible", j, k)
		}
	}
}

func testContextCanceled(t *testing.T, open harness) {
	q := open(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := q.Receive(ctx, 1, 10*time.Second, longVis); err == nil {
		t.Errorf("Receive with a canceled context = nil error")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Receive ignored its context for %v", time.Since(start))
	}
	// Nothing was taken while the poll was abandoned.
	mustSend(t, q, "j1", "alice", 0)
	if ds := mustReceive(t, q, 1, 2*time.Second, longVis); len(ds) != 1 {
		t.Errorf("after a canceled Receive, Receive = %d messages, want 1", len(ds))
	}
}

// TestContractSharedProcess runs the contract against the fake served as a process by
// scripts/services.sh (the one multi-process tests share), on fresh queues.
func TestContractSharedProcess(t *testing.T) {
	ep := awstest.SQS(t)
	ak, sk := awstest.Credentials()
	cfg := aws.Config{Region: awstest.Region, BaseEndpoint: aws.String(ep.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")}
	client := sqs.NewFromConfig(cfg)
	runContract(t, func(t *testing.T, maxReceives int) easel.Queue {
		ctx := context.Background()
		name := "easel-test-" + awstest.RandomHex(6)
		for _, q := range []struct{ name, policy string }{
			{name + "-dead", ""},
			{name, fmt.Sprintf(`{"deadLetterTargetArn":"arn:aws:sqs:%s:%s:%s-dead","maxReceiveCount":"%d"}`, awstest.Region, sqstest.Account, name, maxReceives)},
		} {
			in := &sqs.CreateQueueInput{QueueName: aws.String(q.name)}
			if q.policy != "" {
				in.Attributes = map[string]string{"RedrivePolicy": q.policy}
			}
			out, err := client.CreateQueue(ctx, in)
			if err != nil {
				t.Fatalf("CreateQueue(%s) = %v", q.name, err)
			}
			t.Cleanup(func() { _, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
		}
		q, err := sqsqueue.Open(ctx, cfg, "sqs://"+name)
		if err != nil {
			t.Fatal(err)
		}
		return q
	})
}
