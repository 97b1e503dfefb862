package easel

import (
	"context"
	"time"
)

// Events is the port that publishes job events to the outside world, such as an
// Amazon EventBridge bus (adapter eventbridge). Delivery is at least once: the
// notifier retries a batch that failed, so a consumer may see an event twice and
// should use Event.ID to tell.
type Events interface {
	// Publish sends the events. It fails as a whole or not at all for the caller:
	// on error the whole batch is retried later.
	Publish(ctx context.Context, evs []Event) error
}

// Event is one published job event.
type Event struct {
	// ID is unique per event and stable across retries: "<job id>.<seq>".
	ID   string
	Type string // job.succeeded, ...
	Time time.Time
	// UserID is the job's owner.
	UserID string
	// Detail is the event's JSON payload (the job as the API shows it).
	Detail []byte
}

// WebhookSender delivers webhooks to URLs users gave. It is the only part of Easel
// that connects to a user's URL, so it owns the safety rules: https only (unless
// allowed otherwise for development), no redirects, a time limit, and never a
// loopback, private, link-local (the instance metadata address included),
// unique-local or unspecified address, checked when the URL is accepted and again at
// connect time.
type WebhookSender interface {
	// Check validates a webhook URL before a job is accepted: EInvalid with param
	// "webhook" when it is not acceptable (its host resolving to a forbidden address
	// included).
	Check(ctx context.Context, rawURL string) error
	// Send POSTs one signed message and returns nil when the receiver answered 2xx.
	Send(ctx context.Context, m *WebhookMessage) error
}

// WebhookMessage is one webhook delivery, signed per the Standard Webhooks
// specification: headers webhook-id, webhook-timestamp and webhook-signature
// ("v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per key, space-separated).
type WebhookMessage struct {
	URL       string
	ID        string // webhook-id: the same on every retry of this message
	Timestamp time.Time
	Body      []byte
	// Keys are the signing secrets ("whsec_..."); each adds a signature.
	Keys []string
}
