// Package storetest holds the conformance suites that every adapter of Easel's storage
// ports runs, in the spirit of gocloud.dev's drivertest: RunCatalogTests for
// easel.Catalog (SQLite, DynamoDB; its job cases are also RunJobCatalogTests),
// RunBlobStoreTests for easel.BlobStore (local folder, S3) and RunQueueTests for
// easel.Queue (SQLite, SQS). An adapter's own tests call them with a constructor of fresh, empty
// instances, so that backends cannot drift apart:
//
//	func TestConformance(t *testing.T) {
//		storetest.RunCatalogTests(t, func(t *testing.T) easel.Catalog {
//			s := openTemp(t) // registers its cleanup with t.Cleanup
//			return s
//		})
//	}
//
// Each subtest asks for its own instance, so the constructor should be cheap.
//
// What the suites pin down beyond the ports' doc comments:
//
//   - Times are kept to at least millisecond precision. The suite only uses UTC times
//     truncated to the millisecond and compares instants with time.Time.Equal, so a
//     backend may store milliseconds and return times in any location.
//   - ListImages returns a nil cursor with any page shorter than the limit; a backend
//     that cannot tell that a full page was the last may return a cursor whose next page
//     is empty (and has a nil cursor).
//   - ListPending returns records with CreatedAt strictly before the given time.
//   - MarkReady and SetThumbKey of a deleted record are ENotFound and create nothing
//     (with DynamoDB, an UpdateItem without a condition would recreate the item).
//   - CreateImage of an existing id is EConflict whoever owns it, and keeps the first.
//   - Seeds keep all 64 bits (the suite uses one above math.MaxInt64).
//   - Idempotency records whose ExpiresAt is at or before the backend's clock are absent.
//     AbortIdempotent removes only a running record: a done record keeps its answer.
//     FinishIdempotent, AbortIdempotent and TakeOverIdempotent act only on the claim
//     whose CreatedAt they name; of racing take-overs of one claim exactly one wins.
//   - AddUsage: reaching the limit exactly is allowed; a refused call adds nothing, also
//     on a counter's first use; each successful call under contention returns a
//     distinct total.
//   - Setting keeps binary values byte for byte.
//   - BlobStore keys are those made by easel.ImageKey and easel.ThumbKey, stored with
//     the content type they imply.
//   - Jobs: the comments of easel.JobCatalog are the contract (expired jobs absent,
//     strict "before", owner fixed, one kind of background work per job, EInvalid for
//     jobs failing easel.Job.Check). Jobs round-trip whole: every field, nested times
//     compared as instants, empty and nil slices alike. DueNotify lists only ended jobs.
//   - Queues: the comments of easel.Queue are the contract. The suite never relies on
//     order or on sub-tick timing: a message that must stay invisible is made
//     invisible for minutes, and waits for one to reappear are long polls. A harness
//     names the dead-letter limit (QueueHarness.MaxReceives) and the backend's
//     granularity (QueueHarness.Tick).
package storetest
