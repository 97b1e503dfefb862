package easel

import (
	"context"
	"time"
)

// Queue is the port that hands jobs to workers: at least once, with a visibility
// timeout, like Amazon SQS (adapter sqsqueue) or the table in the local SQLite catalog.
// A message only names a job; the job record in the catalog is the truth, and workers
// claim it with a conditional write, so duplicates and stale messages are harmless.
// The conformance suite is storetest.RunQueueTests; besides the comments below it pins:
//   - Order is not guaranteed (SQS standard queues do not keep it).
//   - A message received while invisible is never handed to another receiver; each
//     receipt is new (a stale one no longer steers the message).
//   - A queue's dead-letter limit N (its max receives) means: N receipts, and the
//     Receive after the N-th (with the message visible again, not deleted) moves it
//     to the dead-letter queue. A message deleted at its N-th receipt never goes there.
//
// Implementations are safe for concurrent use.
type Queue interface {
	// Send enqueues msg, to become visible after delay (0: at once; adapters may cap
	// the delay, SQS at 15 minutes: callers re-check NotBefore).
	Send(ctx context.Context, msg QueueMessage, delay time.Duration) error
	// Receive waits up to wait for at least one visible message and returns at most
	// max (1..10) of them, each now invisible to other receivers for visibility (0
	// leaves it visible). It returns as soon as a message is there (long polling),
	// and an empty slice, not an error, when wait passes (wait 0: it looks once and
	// returns). Adapters may round wait and visibility up to their granularity (SQS:
	// whole seconds, wait at most 20 s). When ctx ends it returns promptly with nothing
	// and ctx's error, or nil. A message received more times than the queue allows is
	// moved to the dead-letter queue instead of being returned.
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]*Delivery, error)
	// Extend makes a received message invisible for visibility from now (0: visible
	// again at once, handing it back). ENotFound if it was deleted or its receipt is
	// stale (the message was received again since).
	Extend(ctx context.Context, d *Delivery, visibility time.Duration) error
	// Delete removes a received message (from the dead-letter queue too, for dead
	// deliveries). Deleting a deleted message is not an error, nor is deleting with a
	// stale receipt (which may or may not delete the message, as in SQS).
	Delete(ctx context.Context, d *Delivery) error
	// ReceiveDead returns up to max messages from the dead-letter queue, invisible for
	// visibility, without waiting; none when the queue has no dead-letter queue.
	// Extend and Delete work on its deliveries as on live ones.
	ReceiveDead(ctx context.Context, max int, visibility time.Duration) ([]*Delivery, error)
	// Ping checks that the queue is reachable (for /readyz).
	Ping(ctx context.Context) error
}

// QueueMessage is what a queue carries.
type QueueMessage struct {
	JobID string `json:"job_id"`
	// Group is the tenant (the job's user): queues that know tenants (SQS fair
	// queues) use it to share workers fairly.
	Group string `json:"group"`
}

// Delivery is one receipt of a message.
type Delivery struct {
	QueueMessage
	// Receipt identifies this receipt for Extend and Delete (opaque to callers).
	Receipt string
	// ReceiveCount counts receipts of the message, this one included (for a dead
	// delivery, adapters may count from its move to the dead-letter queue).
	ReceiveCount int
	// SentAt is when the message was sent (it does not change across receipts).
	SentAt time.Time
	// Dead marks deliveries from the dead-letter queue.
	Dead bool
}
