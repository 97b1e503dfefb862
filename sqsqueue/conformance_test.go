package sqsqueue_test

import (
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/storetest"
)

// The shared Queue conformance suite (the SQLite queue runs it too), with SQS's
// one-second granularity. Dead letters moved by SQS's RedrivePolicy; the adapter's own
// dead-lettering is covered by TestContractAdapterRedrive.
func TestQueueConformance(t *testing.T) {
	const maxReceives = 3
	storetest.RunQueueTests(t, storetest.QueueHarness{
		New: func(t *testing.T) easel.Queue {
			return newEnv(t, true, maxReceives).open(t, true, maxReceives)
		},
		MaxReceives: maxReceives,
		Tick:        time.Second,
	})
}
