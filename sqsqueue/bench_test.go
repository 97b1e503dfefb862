package sqsqueue_test

import (
	"context"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

// BenchmarkSendReceiveDelete measures one job's trip through the queue over the wire
// (three SigV4-signed HTTP calls to the SQS fake on loopback): the adapter's and the
// SDK's cost per job, not SQS's latency.
func BenchmarkSendReceiveDelete(b *testing.B) {
	e := newEnv(b, true, 3).open(b, true, 3)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Send(ctx, easel.QueueMessage{JobID: "j", Group: "alice"}, 0); err != nil {
			b.Fatal(err)
		}
		ds, err := e.Receive(ctx, 1, time.Second, time.Minute)
		if err != nil || len(ds) != 1 {
			b.Fatalf("Receive = %v, %v", ds, err)
		}
		if err := e.Delete(ctx, ds[0]); err != nil {
			b.Fatal(err)
		}
	}
}
