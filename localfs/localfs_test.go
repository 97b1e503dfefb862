package localfs_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/localfs"
	"github.com/easelhq/easel/storetest"
)

func newStore(t *testing.T) (*localfs.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "images")
	s, err := localfs.New(dir, "http://127.0.0.1:8080/images/")
	if err != nil {
		t.Fatalf("New(%q) = %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func TestConformance(t *testing.T) {
	storetest.RunBlobStoreTests(t, func(t *testing.T) easel.BlobStore {
		s, _ := newStore(t)
		return s
	})
}

func TestNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := localfs.New(dir, "/images/")
	if err != nil {
		t.Fatalf("New(%q) = %v", dir, err)
	}
	defer s.Close()
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755&^umask(t) {
		t.Errorf("New made %q: %v, %v; want a folder with mode 0755", dir, fi, err)
	}
	for _, base := range []string{"", "http://[::1"} {
		if _, err := localfs.New(dir, base); err == nil {
			t.Errorf("New(%q, %q) = nil error, want one", dir, base)
		}
	}
}

// umask returns the bits the process's umask clears, read back from a new folder.
func umask(t *testing.T) os.FileMode {
	t.Helper()
	d := filepath.Join(t.TempDir(), "probe")
	if err := os.Mkdir(d, 0o777); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ fi.Mode().Perm()
}

func TestURL(t *testing.T) {
	key := easel.ImageKey(easel.NewID(), "image/png")
	tests := []struct{ base, want string }{
		{"http://127.0.0.1:8080/images/", "http://127.0.0.1:8080/images/" + key},
		{"http://127.0.0.1:8080/images", "http://127.0.0.1:8080/images/" + key},
		{"https://cdn.example.com//", "https://cdn.example.com/" + key},
		{"/images/", "/images/" + key},
	}
	for _, tc := range tests {
		s, err := localfs.New(t.TempDir(), tc.base)
		if err != nil {
			t.Fatalf("New(_, %q) = %v", tc.base, err)
		}
		got, err := s.URL(t.Context(), key)
		if err != nil || got != tc.want {
			t.Errorf("URL(%q) with base %q = %q, %v; want %q", key, tc.base, got, err, tc.want)
		}
		s.Close()
	}
}

func TestValidKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"x.png", true},
		{easel.ThumbKey(easel.NewID(), "image/jpeg"), true},
		{"a_b-c.9", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{".tmp-0123", false},
		{"a..b", false},
		{"../etc/passwd", false},
		{"a/b", false},
		{`a\b`, false},
		{"/abs", false},
		{"%2e%2e", false},
		{"a\x00b", false},
		{"X.PNG", false},
		{"a b", false},
		{"é.png", false},
	}
	for _, tc := range tests {
		if got := localfs.ValidKey(tc.key); got != tc.want {
			t.Errorf("ValidKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestInvalidKeys(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	for _, key := range []string{"", "../x.png", "a/b.png", ".tmp-1"} {
		if _, _, err := s.Get(ctx, key); easel.ErrorCode(err) != easel.ENotFound {
			t.Errorf("Get(%q) = %v, want not found", key, err)
		}
		if err := s.Put(ctx, key, []byte("x"), "image/png"); easel.ErrorCode(err) != easel.EInvalid {
			t.Errorf("Put(%q) = %v, want invalid", key, err)
		}
		if err := s.Delete(ctx, key); easel.ErrorCode(err) != easel.EInvalid {
			t.Errorf("Delete(%q) = %v, want invalid", key, err)
		}
		if _, err := s.URL(ctx, key); easel.ErrorCode(err) != easel.EInvalid {
			t.Errorf("URL(%q) = %v, want invalid", key, err)
		}
	}
}

func TestContentType(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	key := easel.ImageKey(easel.NewID(), "image/png")
	if err := s.Put(ctx, key, []byte("x"), "image/jpeg"); easel.ErrorCode(err) != easel.EInvalid {
		t.Errorf("Put(%q, image/jpeg) = %v, want invalid (the key says png)", key, err)
	}
	other := "notes.bin"
	if err := s.Put(ctx, other, []byte("x"), ""); err != nil {
		t.Fatalf("Put(%q, no type) = %v", other, err)
	}
	r, info, err := s.Get(ctx, other)
	if err != nil {
		t.Fatalf("Get(%q) = %v", other, err)
	}
	r.Close()
	if info.ContentType != "application/octet-stream" {
		t.Errorf("Get(%q) content type = %q, want application/octet-stream", other, info.ContentType)
	}
}

// TestGetReturnsFile checks that Get's reader is an *os.File, which http.ServeContent
// uses for range requests.
func TestGetReturnsFile(t *testing.T) {
	s, _ := newStore(t)
	key := easel.ImageKey(easel.NewID(), "image/png")
	if err := s.Put(t.Context(), key, []byte("data"), "image/png"); err != nil {
		t.Fatal(err)
	}
	r, info1, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.(*os.File); !ok {
		t.Errorf("Get returned a %T, want *os.File", r)
	}
	r2, info2, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
	if info1.ETag != info2.ETag || !strings.HasPrefix(info1.ETag, `"`) {
		t.Errorf("ETags of one object = %s, %s; want the same quoted value", info1.ETag, info2.ETag)
	}
}

// TestCrashLeftovers plays back what a crash during Put leaves: a partial temporary
// file. It is never listed nor served, and a later Put of the key works.
func TestCrashLeftovers(t *testing.T) {
	s, dir := newStore(t)
	ctx := t.Context()
	key := easel.ImageKey(easel.NewID(), "image/png")
	partial := filepath.Join(dir, ".tmp-0123456789abcdef01234567")
	if err := os.WriteFile(partial, []byte("half an ima"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, key, []byte("whole image"), "image/png"); err != nil {
		t.Fatalf("Put(%q) = %v", key, err)
	}
	var listed []string
	if err := s.List(ctx, func(info easel.BlobInfo) error {
		listed = append(listed, info.Key)
		return nil
	}); err != nil {
		t.Fatalf("List = %v", err)
	}
	if !slices.Equal(listed, []string{key}) {
		t.Errorf("List = %v, want only %s (no temporary file, no folder)", listed, key)
	}
	if _, _, err := s.Get(ctx, filepath.Base(partial)); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("Get(temporary file) = %v, want not found", err)
	}
	if _, _, err := s.Get(ctx, "subdir.png"); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("Get(a folder) = %v, want not found", err)
	}
}

// TestPutLeavesNoTemp checks that Put cleans up after itself, also when it fails.
func TestPutLeavesNoTemp(t *testing.T) {
	s, dir := newStore(t)
	ctx := t.Context()
	for range 5 {
		if err := s.Put(ctx, easel.ImageKey(easel.NewID(), "image/png"), []byte("ok"), "image/png"); err != nil {
			t.Fatal(err)
		}
	}
	// Renaming over a non-empty folder fails: the temporary file must go.
	blocked := easel.ImageKey(easel.NewID(), "image/png")
	if err := os.MkdirAll(filepath.Join(dir, blocked, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, blocked, []byte("x"), "image/png"); err == nil {
		t.Errorf("Put(%q) over a folder = nil error, want one", blocked)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("Put left %q in the folder", e.Name())
		}
	}
	if len(entries) != 6 {
		t.Errorf("folder has %d entries, want 6", len(entries))
	}
}

func TestPingMissingFolder(t *testing.T) {
	s, dir := newStore(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Errorf("Ping after the folder was removed = nil, want an error")
	}
}
