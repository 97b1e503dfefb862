package storetest

import (
	"reflect"
	"sync"
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
	checkCode(t, "AbortIdempotent(done)", c.AbortIdempotent(ctx, rec), "")
	got, err = c.BeginIdempotent(ctx, newIdem("user-a", "key-1", nowMilli(), time.Hour))
	checkCode(t, "BeginIdempotent(done, after abort)", err, easel.EConflict)
	checkIdem(t, "BeginIdempotent(done, after abort)", got, &done)
}

func testAbortIdempotent(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	first := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	begin(t, c, first)
	checkCode(t, "AbortIdempotent", c.AbortIdempotent(ctx, first), "")
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
	checkCode(t, "AbortIdempotent(user-b)", c.AbortIdempotent(ctx, b), "")
	got, err := c.BeginIdempotent(ctx, newIdem("user-a", "shared-key", nowMilli(), time.Hour))
	checkCode(t, "BeginIdempotent(user-a)", err, easel.EConflict)
	checkIdem(t, "BeginIdempotent(user-a) after user-b aborted", got, a)
}

func testGetIdempotent(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	_, err := c.GetIdempotent(ctx, "user-a", "key-1")
	checkCode(t, "GetIdempotent(none)", err, easel.ENotFound)
	rec := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	begin(t, c, rec)
	got, err := c.GetIdempotent(ctx, "user-a", "key-1")
	checkCode(t, "GetIdempotent", err, "")
	checkIdem(t, "GetIdempotent", got, rec)
	_, err = c.GetIdempotent(ctx, "user-b", "key-1")
	checkCode(t, "GetIdempotent(other user)", err, easel.ENotFound)
	begin(t, c, newIdem("user-a", "old", nowMilli().Add(-2*time.Hour), time.Hour))
	_, err = c.GetIdempotent(ctx, "user-a", "old")
	checkCode(t, "GetIdempotent(expired)", err, easel.ENotFound)
}

// Finish and Abort act only on the claim they name (its CreatedAt): a request that
// outlived its lease cannot finish or release the claim that took over from it.
func testIdempotentClaimIdentity(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	stale := newIdem("user-a", "key-1", nowMilli().Add(-10*time.Minute), time.Hour)
	begin(t, c, stale)
	fresh := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	fresh.RequestHash = stale.RequestHash
	got, err := c.TakeOverIdempotent(ctx, stale, fresh)
	checkCode(t, "TakeOverIdempotent", err, "")
	if got != nil {
		t.Errorf("TakeOverIdempotent = %+v, want nil record", got)
	}
	checkCode(t, "AbortIdempotent(the stale claim)", c.AbortIdempotent(ctx, stale), "")
	late := *stale
	late.State, late.StatusCode, late.Response = easel.IdempotencyDone, 201, []byte(`{"late":true}`)
	checkCode(t, "FinishIdempotent(the stale claim)", c.FinishIdempotent(ctx, &late), easel.ENotFound)
	got, err = c.GetIdempotent(ctx, "user-a", "key-1")
	checkCode(t, "GetIdempotent", err, "")
	checkIdem(t, "GetIdempotent after the stale claim's finish and abort", got, fresh)
	done := *fresh
	done.State, done.StatusCode, done.Response = easel.IdempotencyDone, 201, []byte(`{"ok":true}`)
	checkCode(t, "FinishIdempotent(the fresh claim)", c.FinishIdempotent(ctx, &done), "")
	// A done record is not taken over as if it were still running...
	again := newIdem("user-a", "key-1", nowMilli(), time.Hour)
	got, err = c.TakeOverIdempotent(ctx, fresh, again)
	checkCode(t, "TakeOverIdempotent(done)", err, easel.EConflict)
	checkIdem(t, "TakeOverIdempotent(done)", got, &done)
	// ...but it is when named as it is (done, same CreatedAt): a failed answer not
	// worth keeping.
	again.RequestHash = done.RequestHash
	got, err = c.TakeOverIdempotent(ctx, &done, again)
	checkCode(t, "TakeOverIdempotent(the done record)", err, "")
	if got != nil {
		t.Errorf("TakeOverIdempotent(the done record) = %+v, want nil record", got)
	}
	got, err = c.GetIdempotent(ctx, "user-a", "key-1")
	checkCode(t, "GetIdempotent after taking over a done record", err, "")
	checkIdem(t, "GetIdempotent after taking over a done record", got, again)
}

// Of retries racing to take over one abandoned claim, exactly one wins.
func testTakeOverRace(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	stale := newIdem("user-a", "key-1", nowMilli().Add(-10*time.Minute), time.Hour)
	begin(t, c, stale)
	const workers = 8
	recs := make([]*easel.IdempotencyRecord, workers)
	errs := make([]error, workers)
	for i := range recs {
		recs[i] = newIdem("user-a", "key-1", nowMilli().Add(time.Duration(i)*time.Millisecond), time.Hour)
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { _, errs[i] = c.TakeOverIdempotent(ctx, stale, recs[i]) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch easel.ErrorCode(err) {
		case "":
			if won >= 0 {
				t.Errorf("TakeOverIdempotent: #%d and #%d both won", won, i)
			}
			won = i
		case easel.EConflict:
		default:
			t.Errorf("TakeOverIdempotent #%d = %v, want success or conflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no TakeOverIdempotent won")
	}
	got, err := c.GetIdempotent(ctx, "user-a", "key-1")
	checkCode(t, "GetIdempotent", err, "")
	checkIdem(t, "GetIdempotent after the race", got, recs[won])
}
