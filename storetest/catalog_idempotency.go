package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

func newIdem(user, key string, created time.Time, ttl time.Duration) *easel.IdempotencyRecord {
	return &easel.IdempotencyRecord{
		UserID:      user,
		Key:         key,
		RequestHash: easel.NewID(),
		State:       easel.IdempotencyRunning,
		CreatedAt:   created,
		ExpiresAt:   created.Add(ttl),
	}
}

func canonIdem(r *easel.IdempotencyRecord) easel.IdempotencyRecord {
	c := *r
	c.CreatedAt = c.CreatedAt.UTC()
	c.ExpiresAt = c.ExpiresAt.UTC()
	if len(c.Response) == 0 {
		c.Response = nil
	}
	return c
}

func checkIdem(t *testing.T, call string, got, want *easel.IdempotencyRecord) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil record, want %+v", call, want)
	}
	if g, w := canonIdem(got), canonIdem(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", call, g, w)
	}
}

// begin calls BeginIdempotent and checks that it stored rec.
func begin(t *testing.T, c easel.Catalog, rec *easel.IdempotencyRecord) {
	t.Helper()
	got, err := c.BeginIdempotent(t.Context(), rec)
	checkCode(t, "BeginIdempotent(new)", err, "")
	if got != nil {
		t.Fatalf("BeginIdempotent(new) = %+v, want nil record", got)
	}
}

func nowMilli() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func testBeginIdempotent(t *testing.T, c easel.Catalog) {
	rec := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	begin(t, c, rec)
	retry := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	got, err := c.BeginIdempotent(t.Context(), retry)
	checkCode(t, "BeginIdempotent(running)", err, easel.EConflict)
	checkIdem(t, "BeginIdempotent(running)", got, rec)
}

func testFinishIdempotent(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	rec := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	begin(t, c, rec)
	done := *rec
	done.State = easel.IdempotencyDone
	done.StatusCode = 201
	done.Response = []byte(`{"data":[{"id":"x"}]}`)
	checkCode(t, "FinishIdempotent", c.FinishIdempotent(ctx, &done), "")

	got, err := c.BeginIdempotent(ctx, newIdem("user-a", "key-1", nowMilli(), time.Hour))
	checkCode(t, "BeginIdempotent(done)", err, easel.EConflict)
	checkIdem(t, "BeginIdempotent(done)", got, &done)
	// Abort only removes running records: the answer stays.
	checkCode(t, "AbortIdempotent(done)", c.AbortIdempotent(ctx, "user-a", "key-1"), "")
	got, err = c.BeginIdempotent(ctx, newIdem("user-a", "key-1", nowMilli(), time.Hour))
	checkCode(t, "BeginIdempotent(done, after abort)", err, easel.EConflict)
	checkIdem(t, "BeginIdempotent(done, after abort)", got, &done)
}

func testAbortIdempotent(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	begin(t, c, newIdem("user-a", "key-1", nowMilli(), time.Hour))
	checkCode(t, "AbortIdempotent", c.AbortIdempotent(ctx, "user-a", "key-1"), "")
	again := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	begin(t, c, again)
	got, err := c.BeginIdempotent(ctx, newIdem("user-a", "key-1", nowMilli(), time.Hour))
	checkCode(t, "BeginIdempotent(after retry began)", err, easel.EConflict)
	checkIdem(t, "BeginIdempotent(after retry began)", got, again)
}

func testExpiredIdempotent(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	old := newIdem("user-a", "key-1", nowMilli().Add(-2*time.Hour), time.Hour) // expired an hour ago
	begin(t, c, old)
	fresh := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	begin(t, c, fresh)
	got, err := c.BeginIdempotent(ctx, newIdem("user-a", "key-1", nowMilli(), time.Hour))
	checkCode(t, "BeginIdempotent", err, easel.EConflict)
	checkIdem(t, "BeginIdempotent after an expired record was replaced", got, fresh)

}

func testIdempotentPerUser(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	a := newIdem("user-a", "shared-key", nowMilli(), time.Hour)
	begin(t, c, a)
	b := newIdem("user-b", "shared-key", nowMilli(), time.Hour)
	begin(t, c, b)
	checkCode(t, "AbortIdempotent(user-b)", c.AbortIdempotent(ctx, "user-b", "shared-key"), "")
	got, err := c.BeginIdempotent(ctx, newIdem("user-a", "shared-key", nowMilli(), time.Hour))
	checkCode(t, "BeginIdempotent(user-a)", err, easel.EConflict)
	checkIdem(t, "BeginIdempotent(user-a) after user-b aborted", got, a)
}
