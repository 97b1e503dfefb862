package easel

import (
	"context"
	"time"
)

// Catalog is the metadata port: image records, API keys, idempotency records, quota
// counters, settings, jobs and webhook secrets. Times are kept to the millisecond, in UTC; seeds keep all 64
// bits. The storetest package holds the conformance suite every adapter passes. Every method that takes a userID acts only on that user's
// items: another user's item is ENotFound, never EForbidden. Implementations are safe
// for concurrent use and across processes sharing the same backend.
type Catalog interface {
	ImageCatalog
	KeyCatalog
	IdempotencyCatalog
	QuotaCatalog
	JobCatalog
	SessionCatalog
	// Setting returns the value stored under name, storing value first if there is
	// none (first writer wins, across processes). Used for shared secrets.
	Setting(ctx context.Context, name string, value []byte) ([]byte, error)
	// Ping checks that the catalog is reachable (for /readyz).
	Ping(ctx context.Context) error
}

// ImageCatalog keeps image records.
type ImageCatalog interface {
	// CreateImage stores a new record. EConflict if the id exists.
	CreateImage(ctx context.Context, img *Image) error
	// MarkReady sets a pending record's status to ready. ENotFound if the record is
	// gone (swept or deleted), in which case the caller must not answer with it.
	MarkReady(ctx context.Context, userID, id string) error
	// SetThumbKey records the thumbnail of a ready image. ENotFound if it is gone
	// (callers set it only after MarkReady).
	SetThumbKey(ctx context.Context, userID, id, thumbKey string) error
	// GetImage returns the user's ready image. ENotFound otherwise.
	GetImage(ctx context.Context, userID, id string) (*Image, error)
	// LookupImage returns the record with that id whatever its owner and status, for
	// the sweeper and the local image server. ENotFound if none.
	LookupImage(ctx context.Context, id string) (*Image, error)
	// ListImages returns a page of the user's ready images, newest first (CreatedAt
	// descending, then ID descending), and the cursor of the next page: nil when the page
	// is shorter than the limit (an adapter may return one last, empty page). Callers pass
	// a limit of 1..MaxPageSize.
	ListImages(ctx context.Context, userID string, opt ListOptions) ([]*Image, *PageCursor, error)
	// DeleteImage deletes the user's record and returns it. ENotFound if none.
	DeleteImage(ctx context.Context, userID, id string) (*Image, error)
	// ListPending returns up to limit pending records created strictly before the given
	// time.
	ListPending(ctx context.Context, before time.Time, limit int) ([]*Image, error)
	// DeletePending deletes a record only while it is still pending. ENotFound if it
	// is gone or ready.
	DeletePending(ctx context.Context, id string) error
}

// APIKey is a stored API key. The secret itself is never stored: only its hash.
type APIKey struct {
	ID        string     `json:"id"` // public, short, shown in listings
	UserID    string     `json:"user_id"`
	Hash      []byte     `json:"-"` // SHA-256 of the whole key string
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// KeyCatalog keeps API keys.
type KeyCatalog interface {
	// CreateKey stores a key. EConflict if its id or hash exists.
	CreateKey(ctx context.Context, k *APIKey) error
	// KeyByHash returns the key with that hash, revoked or not. ENotFound if none.
	KeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// ListKeys returns all keys, oldest first.
	ListKeys(ctx context.Context) ([]*APIKey, error)
	// RevokeKey marks a key revoked. ENotFound if there is no such key.
	RevokeKey(ctx context.Context, id string, at time.Time) error
}

// IdempotencyState is the stage of an idempotent request.
type IdempotencyState string

const (
	IdempotencyRunning IdempotencyState = "running"
	IdempotencyDone    IdempotencyState = "done"
)

// IdempotencyRecord remembers a request made with an Idempotency-Key and, once done,
// its answer.
type IdempotencyRecord struct {
	UserID      string
	Key         string // the caller's Idempotency-Key
	RequestHash string // hex SHA-256 of the canonical request
	State       IdempotencyState
	StatusCode  int    // set when done
	Response    []byte // the answer's JSON body, set when done
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// IdempotencyCatalog keeps idempotency records. Records past ExpiresAt are treated as
// absent by every method (backends may delete them lazily).
//
// A record's CreatedAt identifies the claim that wrote it: Finish, Abort and TakeOver
// act only on the claim they name, so a request that outlived its lease cannot finish
// or release the key of the retry that took it over, and two retries taking over the
// same abandoned claim cannot both win. Callers keep CreatedAt to the millisecond.
type IdempotencyCatalog interface {
	// BeginIdempotent stores rec (State running) unless a live record exists for the
	// same user and key, in which case it returns that record and EConflict.
	BeginIdempotent(ctx context.Context, rec *IdempotencyRecord) (*IdempotencyRecord, error)
	// GetIdempotent returns the live record of the user's key. ENotFound if none.
	GetIdempotent(ctx context.Context, userID, key string) (*IdempotencyRecord, error)
	// TakeOverIdempotent replaces stale with rec (State running), only if the stored
	// record is still stale (same State and CreatedAt): a running record whose claimant
	// is presumed dead, or a done record whose answer is not worth keeping (its job
	// failed in a way worth retrying). Otherwise it returns the stored record (nil when
	// there is none) and EConflict.
	TakeOverIdempotent(ctx context.Context, stale, rec *IdempotencyRecord) (*IdempotencyRecord, error)
	// FinishIdempotent stores the answer of rec's claim (State done): the record must be
	// running with rec's request hash and CreatedAt. ENotFound otherwise.
	FinishIdempotent(ctx context.Context, rec *IdempotencyRecord) error
	// AbortIdempotent deletes rec's claim (running, same CreatedAt), so that the request
	// can be retried. A finished record keeps its answer; another claim, or none, is
	// left as it is, and is not an error.
	AbortIdempotent(ctx context.Context, rec *IdempotencyRecord) error
}

// QuotaCatalog keeps per-user usage counters.
type QuotaCatalog interface {
	// AddUsage adds n (which may be negative, to refund) to the user's counter for
	// period (such as "2026-11-27") and returns the new total. With limit > 0 and n > 0
	// it adds nothing and returns EQuotaExceeded when the total would pass limit.
	// Counters may expire some time after their period ends.
	AddUsage(ctx context.Context, userID, period string, n, limit int) (int, error)
}

// JobCatalog keeps jobs and users' webhook secrets. Every change to a job is a
// compare-and-swap on Job.Version, so the state machine lives in one place (package
// service) and adapters only store, index and compare. The conformance suite
// (storetest.RunJobCatalogTests, part of RunCatalogTests) pins what the comments
// below say:
//   - A job whose ExpiresAt is set and has passed (by the backend's clock) is absent
//     for every method, as if deleted; backends delete it some time later.
//   - Times are kept to the millisecond at least; comparisons with a given time are
//     strict ("before" means earlier, never equal), as in ListPending.
//   - The owner of a job never changes: a job is another user's for every method that
//     takes a user, UpdateJob included.
//   - A job is indexed for at most one kind of background work, by its status: a
//     queued job by QueuedAt (DueQueued, CountQueued), a running one by Lease.Until
//     (DueLease), an ended one by Notify.DueAt when it is set (DueNotify).
type JobCatalog interface {
	// CreateJob stores a new job and sets its Version to 1. EConflict if the id
	// exists, whoever owns it; EInvalid if j.Check fails. Nothing is stored on error.
	CreateJob(ctx context.Context, j *Job) error
	// UpdateJob replaces the stored job if its Version equals j.Version, then increments
	// j.Version. EConflict if the stored Version differs (reload and retry); ENotFound
	// if the job is gone, expired or not j.UserID's; EInvalid if j.Check fails. Nothing
	// is stored, and j.Version is unchanged, on error. Of several writers holding the
	// same Version, exactly one succeeds.
	UpdateJob(ctx context.Context, j *Job) error
	// GetJob returns the user's job. ENotFound otherwise (another user's job included).
	GetJob(ctx context.Context, userID, id string) (*Job, error)
	// LookupJob returns the job with that id whatever its owner. ENotFound if none.
	LookupJob(ctx context.Context, id string) (*Job, error)
	// ListJobs returns a page of the user's jobs with one of opt.Statuses (any status
	// when empty), newest first (CreatedAt descending, then ID descending), and the
	// cursor of the next page, as ListImages does: nil with a short page; a backend
	// may return a cursor whose next page is empty. Callers pass a limit of
	// 1..MaxPageSize.
	ListJobs(ctx context.Context, userID string, opt JobListOptions) ([]*Job, *PageCursor, error)
	// CountQueued returns how many jobs are queued: the user's own when userID is not
	// empty, else everyone's; with before not zero, only those whose QueuedAt is
	// strictly earlier. It stops counting at limit, returning at most limit (a limit
	// <= 0 means no bound).
	CountQueued(ctx context.Context, userID string, before time.Time, limit int) (int, error)
	// DueJobs returns up to limit jobs due for the given background work strictly
	// before the given time, oldest first (by the time the work looks at, then by ID;
	// see JobDue).
	DueJobs(ctx context.Context, due JobDue, before time.Time, limit int) ([]*Job, error)

	// WebhookSecret returns the user's webhook signing secret. ENotFound if none.
	WebhookSecret(ctx context.Context, userID string) (*WebhookSecret, error)
	// PutWebhookSecret stores the user's secret if the stored Version equals
	// s.Version (0: there is none yet), then increments s.Version. EConflict
	// otherwise, and s.Version is unchanged.
	PutWebhookSecret(ctx context.Context, s *WebhookSecret) error
}

// WebhookSecret is a user's key for signing webhooks (Standard Webhooks: "whsec_" and
// the base64 of the key bytes). After a rotation the previous key still signs, beside
// the new one, until PreviousUntil.
type WebhookSecret struct {
	UserID        string
	Key           string
	Previous      string
	PreviousUntil time.Time
	CreatedAt     time.Time
	Version       int64
}
