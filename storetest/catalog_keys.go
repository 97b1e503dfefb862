package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

// newKey returns an API key record with a hash of a random secret.
func newKey(user string, created time.Time) *easel.APIKey {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	h := sha256.Sum256(secret)
	return &easel.APIKey{ID: easel.NewID()[:12], UserID: user, Hash: h[:], CreatedAt: created}
}

func canonKey(k *easel.APIKey) easel.APIKey {
	c := *k
	c.CreatedAt = c.CreatedAt.UTC()
	if c.RevokedAt != nil {
		r := c.RevokedAt.UTC()
		c.RevokedAt = &r
	}
	return c
}

func checkKey(t *testing.T, call string, got, want *easel.APIKey) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil, want %+v", call, want)
	}
	if g, w := canonKey(got), canonKey(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", call, g, w)
	}
}

func createKey(t *testing.T, c easel.Catalog, k *easel.APIKey) {
	t.Helper()
	checkCode(t, "CreateKey", c.CreateKey(t.Context(), k), "")
}

func testCreateKey(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	k := newKey("user-a", baseTime())
	createKey(t, c, k)
	got, err := c.KeyByHash(ctx, k.Hash)
	checkCode(t, "KeyByHash", err, "")
	checkKey(t, "KeyByHash", got, k)
	other := newKey("user-a", baseTime())
	_, err = c.KeyByHash(ctx, other.Hash)
	checkCode(t, "KeyByHash(unknown)", err, easel.ENotFound)
}

func testDuplicateKey(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	k := newKey("user-a", baseTime())
	createKey(t, c, k)

	sameID := newKey("user-b", baseTime())
	sameID.ID = k.ID
	checkCode(t, "CreateKey(same id)", c.CreateKey(ctx, sameID), easel.EConflict)
	_, err := c.KeyByHash(ctx, sameID.Hash)
	checkCode(t, "KeyByHash(rejected key)", err, easel.ENotFound)

	sameHash := newKey("user-b", baseTime())
	sameHash.Hash = slices.Clone(k.Hash)
	checkCode(t, "CreateKey(same hash)", c.CreateKey(ctx, sameHash), easel.EConflict)

	got, err := c.KeyByHash(ctx, k.Hash)
	checkCode(t, "KeyByHash", err, "")
	checkKey(t, "KeyByHash after conflicts", got, k)
	keys, err := c.ListKeys(ctx)
	checkCode(t, "ListKeys", err, "")
	if len(keys) != 1 {
		t.Errorf("ListKeys after conflicts = %d keys, want 1", len(keys))
	}
}

func testListKeys(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	keys, err := c.ListKeys(ctx)
	checkCode(t, "ListKeys", err, "")
	if len(keys) != 0 {
		t.Fatalf("ListKeys of an empty catalog = %d keys, want 0", len(keys))
	}
	base := baseTime()
	var want []*easel.APIKey
	for _, offset := range []int{3, 0, 4, 1, 2} { // created out of order
		k := newKey("user-a", base.Add(time.Duration(offset)*time.Minute))
		if offset%2 == 1 {
			k.UserID = "user-b"
		}
		createKey(t, c, k)
		want = append(want, k)
	}
	slices.SortFunc(want, func(a, b *easel.APIKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	got, err := c.ListKeys(ctx)
	checkCode(t, "ListKeys", err, "")
	if len(got) != len(want) {
		t.Fatalf("ListKeys = %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		checkKey(t, "ListKeys (oldest first)", got[i], want[i])
	}
}

func testRevokeKey(t *testing.T, c easel.Catalog) {
	ctx := t.Context()
	k := newKey("user-a", baseTime())
	createKey(t, c, k)
	keep := newKey("user-a", baseTime().Add(time.Second))
	createKey(t, c, keep)

	at := baseTime().Add(time.Minute)
	checkCode(t, "RevokeKey", c.RevokeKey(ctx, k.ID, at), "")
	k.RevokedAt = &at
	got, err := c.KeyByHash(ctx, k.Hash)
	checkCode(t, "KeyByHash(revoked)", err, "")
	checkKey(t, "KeyByHash(revoked)", got, k)
	got, err = c.KeyByHash(ctx, keep.Hash)
	checkCode(t, "KeyByHash(other key)", err, "")
	checkKey(t, "KeyByHash(other key)", got, keep)
	keys, err := c.ListKeys(ctx)
	checkCode(t, "ListKeys", err, "")
	if len(keys) != 2 {
		t.Fatalf("ListKeys = %d keys, want 2", len(keys))
	}
	checkKey(t, "ListKeys[0]", keys[0], k)

	checkCode(t, "RevokeKey(unknown)", c.RevokeKey(ctx, "nosuchkey", at), easel.ENotFound)
	keys, err = c.ListKeys(ctx)
	checkCode(t, "ListKeys", err, "")
	if len(keys) != 2 {
		t.Errorf("ListKeys after RevokeKey(unknown) = %d keys, want 2 (nothing created)", len(keys))
	}
}
