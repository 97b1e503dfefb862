package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/easelhq/easel"
)

// RunBlobStoreTests runs the BlobStore conformance suite. newStore returns a fresh,
// empty store (its cleanup registered with t.Cleanup); it is called once per subtest.
func RunBlobStoreTests(t *testing.T, newStore func(t *testing.T) easel.BlobStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s easel.BlobStore)
	}{
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"GetMissing", testGetMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"ListStops", testListStops},
		{"URL", testURL},
		{"Ping", testBlobPing},
		{"Large", testLarge},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Owner", testOwner},
		{"OwnerConcurrent", testOwnerConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func put(t *testing.T, s easel.BlobStore, key string, data []byte, contentType string) {
	t.Helper()
	checkCode(t, fmt.Sprintf("Put(%q)", key), s.Put(t.Context(), key, data, contentType), "")
}

// get reads the object and checks what Get says about it.
func get(t *testing.T, s easel.BlobStore, key string) ([]byte, easel.BlobInfo) {
	t.Helper()
	r, info, err := s.Get(t.Context(), key)
	checkCode(t, fmt.Sprintf("Get(%q)", key), err, "")
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	if info.Key != key {
		t.Errorf("Get(%q) info.Key = %q, want %q", key, info.Key, key)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Get(%q) info.Size = %d, want %d (bytes read)", key, info.Size, len(data))
	}
	if info.ModTime.IsZero() {
		t.Errorf("Get(%q) info.ModTime is zero", key)
	}
	if info.ETag == "" {
		t.Errorf("Get(%q) info.ETag is empty", key)
	}
	return data, info
}

func testPutGet(t *testing.T, s easel.BlobStore) {
	for _, ct := range []string{"image/png", "image/jpeg", "image/webp"} {
		id := easel.NewID()
		for _, key := range []string{easel.ImageKey(id, ct), easel.ThumbKey(id, ct)} {
			want := randomBytes(1000 + len(key))
			put(t, s, key, want, ct)
			got, info := get(t, s, key)
			if !bytes.Equal(got, want) {
				t.Errorf("Get(%q) = %d bytes, not the %d put", key, len(got), len(want))
			}
			if info.ContentType != ct {
				t.Errorf("Get(%q) info.ContentType = %q, want %q", key, info.ContentType, ct)
			}
		}
	}
	// Range requests need a seekable reader, where the store offers one.
	key := easel.ImageKey(easel.NewID(), "image/png")
	data := randomBytes(4096)
	put(t, s, key, data, "image/png")
	r, _, err := s.Get(t.Context(), key)
	checkCode(t, "Get", err, "")
	defer r.Close()
	if rs, ok := r.(io.ReadSeeker); ok {
		if _, err := rs.Seek(1000, io.SeekStart); err != nil {
			t.Fatalf("Seek(1000): %v", err)
		}
		part := make([]byte, 24)
		if _, err := io.ReadFull(rs, part); err != nil || !bytes.Equal(part, data[1000:1024]) {
			t.Errorf("after Seek(1000), read %x (%v), want %x", part, err, data[1000:1024])
		}
	}
}

func testOverwrite(t *testing.T, s easel.BlobStore) {
	key := easel.ImageKey(easel.NewID(), "image/png")
	put(t, s, key, randomBytes(5000), "image/png")
	want := randomBytes(3000)
	put(t, s, key, want, "image/png")
	got, info := get(t, s, key)
	if !bytes.Equal(got, want) || info.Size != int64(len(want)) {
		t.Errorf("Get after overwrite = %d bytes (size %d), want the second %d bytes", len(got), info.Size, len(want))
	}
}

func testGetMissing(t *testing.T, s easel.BlobStore) {
	for _, key := range []string{easel.ImageKey(easel.NewID(), "image/png"), easel.ThumbKey(easel.NewID(), "image/jpeg")} {
		r, _, err := s.Get(t.Context(), key)
		if r != nil {
			r.Close()
		}
		checkCode(t, fmt.Sprintf("Get(%q)", key), err, easel.ENotFound)
	}
}

func testDelete(t *testing.T, s easel.BlobStore) {
	ctx := t.Context()
	key := easel.ImageKey(easel.NewID(), "image/png")
	keep := easel.ThumbKey(easel.NewID(), "image/jpeg")
	put(t, s, key, randomBytes(100), "image/png")
	put(t, s, keep, randomBytes(100), "image/jpeg")
	checkCode(t, "Delete", s.Delete(ctx, key), "")
	_, _, err := s.Get(ctx, key)
	checkCode(t, "Get(deleted)", err, easel.ENotFound)
	checkCode(t, "Delete(again)", s.Delete(ctx, key), "")
	checkCode(t, "Delete(never stored)", s.Delete(ctx, easel.ImageKey(easel.NewID(), "image/png")), "")
	get(t, s, keep)
	if got := listSizes(t, s); !maps.Equal(got, map[string]int64{keep: 100}) {
		t.Errorf("List after Delete = %v, want only %s", got, keep)
	}
}

func listSizes(t *testing.T, s easel.BlobStore) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.List(t.Context(), func(info easel.BlobInfo) error {
		if _, dup := got[info.Key]; dup {
			t.Errorf("List reported %q twice", info.Key)
		}
		got[info.Key] = info.Size
		return nil
	})
	checkCode(t, "List", err, "")
	return got
}

func testList(t *testing.T, s easel.BlobStore) {
	if got := listSizes(t, s); len(got) != 0 {
		t.Fatalf("List of an empty store = %v, want nothing", got)
	}
	want := map[string]int64{}
	for i := range 7 {
		id := easel.NewID()
		key := easel.ImageKey(id, "image/png")
		if i%2 == 1 {
			key = easel.ThumbKey(id, "image/jpeg")
		}
		n := 10 + i*333
		put(t, s, key, randomBytes(n), easel.ContentTypeOfKey(key))
		want[key] = int64(n)
	}
	empty := easel.ImageKey(easel.NewID(), "image/webp")
	put(t, s, empty, []byte{}, "image/webp") // an empty object is an object
	want[empty] = 0
	got := listSizes(t, s)
	if !maps.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func testListStops(t *testing.T, s easel.BlobStore) {
	for range 3 {
		put(t, s, easel.ImageKey(easel.NewID(), "image/png"), randomBytes(10), "image/png")
	}
	stop := errors.New("stop here")
	calls := 0
	err := s.List(t.Context(), func(easel.BlobInfo) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("List with fn failing = %v, want fn's error", err)
	}
	if calls != 1 {
		t.Errorf("List called fn %d times after it failed, want 1", calls)
	}
}

func testURL(t *testing.T, s easel.BlobStore) {
	key := easel.ImageKey(easel.NewID(), "image/png")
	u, err := s.URL(t.Context(), key)
	checkCode(t, "URL", err, "")
	if u == "" || !strings.Contains(u, key) {
		t.Errorf("URL(%q) = %q, want a URL that names the key", key, u)
	}
}

func testBlobPing(t *testing.T, s easel.BlobStore) {
	checkCode(t, "Ping", s.Ping(t.Context()), "")
}

func testLarge(t *testing.T, s easel.BlobStore) {
	key := easel.ImageKey(easel.NewID(), "image/png")
	want := randomBytes(2 << 20)
	put(t, s, key, want, "image/png")
	got, info := get(t, s, key)
	if !bytes.Equal(got, want) || info.Size != 2<<20 {
		t.Errorf("Get of a 2 MB object = %d bytes (size %d), want the %d put", len(got), info.Size, len(want))
	}
}

// testConcurrentPuts writes distinct keys and one shared key from many goroutines: every
// distinct object reads back whole, and the shared one is exactly one of the writes.
func testConcurrentPuts(t *testing.T, s easel.BlobStore) {
	const workers = 12
	shared := easel.ImageKey(easel.NewID(), "image/png")
	keys := make([]string, workers)
	own := make([][]byte, workers)
	candidates := make([][]byte, workers)
	for i := range workers {
		keys[i] = easel.ImageKey(easel.NewID(), "image/png")
		own[i] = randomBytes(20000 + 100*i)
		candidates[i] = randomBytes(30000 + 1000*i)
	}
	errs := make([]error, 2*workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { errs[2*i] = s.Put(t.Context(), keys[i], own[i], "image/png") })
		wg.Go(func() { errs[2*i+1] = s.Put(t.Context(), shared, candidates[i], "image/png") })
	}
	wg.Wait()
	for _, err := range errs {
		checkCode(t, "concurrent Put", err, "")
	}
	for i, key := range keys {
		if got, _ := get(t, s, key); !bytes.Equal(got, own[i]) {
			t.Errorf("Get(%q) after concurrent Puts = %d bytes, not the %d put", key, len(got), len(own[i]))
		}
	}
	got, _ := get(t, s, shared)
	if !slices.ContainsFunc(candidates, func(c []byte) bool { return bytes.Equal(c, got) }) {
		t.Errorf("Get(%q) after concurrent Puts to it = %d bytes matching none of the writes", shared, len(got))
	}
	if n := len(listSizes(t, s)); n != workers+1 {
		t.Errorf("List after concurrent Puts = %d objects, want %d", n, workers+1)
	}
}

// testOwner: no mark at first; the first claim wins and stays; the mark is not an
// object (List does not report it).
func testOwner(t *testing.T, s easel.BlobStore) {
	ctx := t.Context()
	_, err := s.Owner(ctx)
	checkCode(t, "Owner(unmarked)", err, easel.ENotFound)
	a, b := easel.NewID(), easel.NewID()
	got, err := s.ClaimOwner(ctx, a)
	checkCode(t, "ClaimOwner(first)", err, "")
	if got != a {
		t.Errorf("ClaimOwner(%q) on an unmarked store = %q, want %q", a, got, a)
	}
	got, err = s.ClaimOwner(ctx, b)
	checkCode(t, "ClaimOwner(second)", err, "")
	if got != a {
		t.Errorf("ClaimOwner(%q) on a store marked %q = %q, want the first mark kept", b, a, got)
	}
	got, err = s.Owner(ctx)
	checkCode(t, "Owner", err, "")
	if got != a {
		t.Errorf("Owner = %q, want %q", got, a)
	}
	if n := len(listSizes(t, s)); n != 0 {
		t.Errorf("List after ClaimOwner = %d objects, want 0 (the mark is not an object)", n)
	}
}

// testOwnerConcurrent: racing claims agree on one winner.
func testOwnerConcurrent(t *testing.T, s easel.BlobStore) {
	const workers = 8
	ids := make([]string, workers)
	got := make([]string, workers)
	errs := make([]error, workers)
	for i := range ids {
		ids[i] = easel.NewID()
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { got[i], errs[i] = s.ClaimOwner(t.Context(), ids[i]) })
	}
	wg.Wait()
	owner, err := s.Owner(t.Context())
	checkCode(t, "Owner after racing claims", err, "")
	if !slices.Contains(ids, owner) {
		t.Fatalf("Owner after racing claims = %q, none of the claimed ids", owner)
	}
	for i := range workers {
		if errs[i] == nil && got[i] != owner {
			t.Errorf("ClaimOwner #%d = %q, but the mark holds %q", i, got[i], owner)
		}
	}
}
