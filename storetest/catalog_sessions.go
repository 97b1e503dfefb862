package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"reflect"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

// newSession returns a session of user, with the hash of a random id, that expires
// after ttl (negative: expired already).
func newSession(user string, ttl time.Duration) *easel.Session {
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	h := sha256.Sum256(id)
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &easel.Session{Hash: h[:], UserID: user, CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(ttl)}
}

func checkSession(t *testing.T, call string, got, want *easel.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil, want %+v", call, want)
	}
	g, w := *got, *want
	g.CreatedAt, g.ExpiresAt = g.CreatedAt.UTC(), g.ExpiresAt.UTC()
	w.CreatedAt, w.ExpiresAt = w.CreatedAt.UTC(), w.ExpiresAt.UTC()
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", call, g, w)
	}
}

func testCreateSession(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	s := newSession("user-a", time.Hour)
	checkCode(t, "CreateSession", c.CreateSession(ctx, s), "")
	got, err := c.SessionByHash(ctx, s.Hash)
	checkCode(t, "SessionByHash", err, "")
	checkSession(t, "SessionByHash", got, s)

	other := newSession("user-a", time.Hour)
	_, err = c.SessionByHash(ctx, other.Hash)
	checkCode(t, "SessionByHash(unknown)", err, easel.ENotFound)

	again := newSession("user-b", time.Hour)
	again.Hash = s.Hash
	checkCode(t, "CreateSession(same hash)", c.CreateSession(ctx, again), easel.EConflict)
	got, err = c.SessionByHash(ctx, s.Hash)
	checkCode(t, "SessionByHash after conflict", err, "")
	checkSession(t, "SessionByHash after conflict", got, s)

	checkCode(t, "CreateSession(no user)", c.CreateSession(ctx, newSession("", time.Hour)), easel.EInvalid)
}

func testSessionExpiry(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	expired := newSession("user-a", -time.Second)
	checkCode(t, "CreateSession(expired)", c.CreateSession(ctx, expired), "")
	_, err := c.SessionByHash(ctx, expired.Hash)
	checkCode(t, "SessionByHash(expired)", err, easel.ENotFound)

	short := newSession("user-a", 300*time.Millisecond)
	checkCode(t, "CreateSession(short)", c.CreateSession(ctx, short), "")
	_, err = c.SessionByHash(ctx, short.Hash)
	checkCode(t, "SessionByHash(before expiry)", err, "")
	time.Sleep(time.Until(short.ExpiresAt) + 50*time.Millisecond)
	_, err = c.SessionByHash(ctx, short.Hash)
	checkCode(t, "SessionByHash(after expiry)", err, easel.ENotFound)

	// Creating sessions sweeps expired ones in some backends; live ones stay.
	live := newSession("user-b", time.Hour)
	checkCode(t, "CreateSession(live)", c.CreateSession(ctx, live), "")
	got, err := c.SessionByHash(ctx, live.Hash)
	checkCode(t, "SessionByHash(live)", err, "")
	checkSession(t, "SessionByHash(live)", got, live)
}

func testDeleteSession(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	s := newSession("user-a", time.Hour)
	keep := newSession("user-a", time.Hour)
	checkCode(t, "CreateSession", c.CreateSession(ctx, s), "")
	checkCode(t, "CreateSession(keep)", c.CreateSession(ctx, keep), "")
	checkCode(t, "DeleteSession", c.DeleteSession(ctx, s.Hash), "")
	_, err := c.SessionByHash(ctx, s.Hash)
	checkCode(t, "SessionByHash(deleted)", err, easel.ENotFound)
	checkCode(t, "DeleteSession(again)", c.DeleteSession(ctx, s.Hash), "")
	got, err := c.SessionByHash(ctx, keep.Hash)
	checkCode(t, "SessionByHash(other session)", err, "")
	checkSession(t, "SessionByHash(other session)", got, keep)
}
