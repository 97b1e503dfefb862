package sqlitestore_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/sqlitestore"
	"github.com/easelhq/easel/storetest"
)

// open opens and migrates a store on path, closed when the test ends.
func open(tb testing.TB, path string) *sqlitestore.Store {
	tb.Helper()
	s, err := sqlitestore.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close = %v", err)
		}
	})
	if err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate = %v", err)
	}
	return s
}

func tempPath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "easel.db")
}

func TestConformance(t *testing.T) {
	storetest.RunCatalogTests(t, func(t *testing.T) easel.Catalog {
		return open(t, tempPath(t))
	})
}

// TestTwoHandles opens the file twice, as the server and a CLI command would, and
// checks that each sees the other's writes, also under concurrent writes.
func TestTwoHandles(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	a, b := open(t, path), open(t, path)

	img := &easel.Image{ID: easel.NewID(), UserID: "user-a", Status: easel.StatusPending, Model: "m",
		Prompt: "p", Width: 8, Height: 8, ContentType: "image/png", CreatedAt: time.Now()}
	if err := a.CreateImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkReady(ctx, "user-a", img.ID); err != nil {
		t.Fatalf("MarkReady through the second handle = %v", err)
	}
	if _, err := a.GetImage(ctx, "user-a", img.ID); err != nil {
		t.Errorf("GetImage through the first handle = %v, want the ready image", err)
	}
	key := &easel.APIKey{ID: "k1", UserID: "user-a", Hash: []byte("hash"), CreatedAt: time.Now()}
	if err := b.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := a.KeyByHash(ctx, key.Hash); err != nil {
		t.Errorf("KeyByHash through the other handle = %v", err)
	}
	va, err := a.Setting(ctx, "secret", []byte("from-a"))
	if err != nil {
		t.Fatal(err)
	}
	vb, err := b.Setting(ctx, "secret", []byte("from-b"))
	if err != nil || string(vb) != string(va) {
		t.Errorf("Setting through the second handle = %q, %v; want the first's %q", vb, err, va)
	}

	// Both handles race for one quota; the file lock and busy timeout keep it exact.
	const limit = 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range 6 {
				_, err := s.AddUsage(ctx, "user-a", "2026-11-27", 1, limit)
				if err != nil && easel.ErrorCode(err) != easel.EQuotaExceeded {
					t.Errorf("AddUsage = %v", err)
				}
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if ok != limit {
		t.Errorf("AddUsage through two handles: %d succeeded, want %d", ok, limit)
	}
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping before Migrate = nil, want an error (no schema)")
	}
	for i := range 3 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d = %v", i+1, err)
		}
		if i == 0 {
			if _, err := s.Setting(ctx, "kept", []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after Migrate = %v", err)
	}
	if v, _ := s.Setting(ctx, "kept", []byte("other")); string(v) != "v" {
		t.Errorf("Setting after migrating again = %q, want the value stored before (%q)", v, "v")
	}
	db := rawDB(t, path)
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != sqlitestore.SchemaVersion() {
		t.Errorf("user_version = %d, %v; want %d", version, err, sqlitestore.SchemaVersion())
	}

	// A database from a newer program is refused, not downgraded.
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Migrate of a newer schema = %v, want an error", err)
	}
}

// TestConcurrentMigrate starts several handles on a new file at once, as processes
// starting together would.
func TestConcurrentMigrate(t *testing.T) {
	path := tempPath(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { open(t, path) })
	}
	wg.Wait()
}

// rawDB opens the file with the driver directly, to look behind the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPragmas(t *testing.T) {
	path := tempPath(t)
	open(t, path)
	var mode string
	if err := rawDB(t, path).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

// TestGalleryPlan checks that a page with a cursor walks the gallery index, with no
// sort step (keyset pagination, never OFFSET).
func TestGalleryPlan(t *testing.T) {
	s := open(t, tempPath(t))
	plan, err := sqlitestore.ExplainList(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "images_gallery") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("gallery query plan:\n%s\nwant a search of images_gallery without a sort", plan)
	}
}

func TestOpenPaths(t *testing.T) {
	ctx := t.Context()
	for _, name := range []string{"new/folders/easel.db", "odd?name#with%chars.db", "spaces in name.db"} {
		path := filepath.Join(t.TempDir(), name)
		s := open(t, path)
		if _, err := s.Setting(ctx, "x", []byte("y")); err != nil {
			t.Errorf("Setting in %q = %v", name, err)
		}
		if s.Path() != path {
			t.Errorf("Path() = %q, want %q", s.Path(), path)
		}
		if err := rawDB(t, "file:"+strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)).
			QueryRowContext(ctx, "SELECT count(*) FROM settings").Scan(new(int)); err != nil {
			t.Errorf("the file %q does not hold the store's tables: %v", path, err)
		}
	}
	if _, err := sqlitestore.Open(ctx, ""); err == nil {
		t.Errorf("Open(\"\") = nil error, want one")
	}
}

func TestPathFromURL(t *testing.T) {
	tests := []struct {
		url, want string
		ok        bool
	}{
		{"sqlite://./data/easel.db", "./data/easel.db", true},
		{"sqlite:///var/lib/easel/easel.db", "/var/lib/easel/easel.db", true},
		{"sqlite://easel.db", "easel.db", true},
		{"sqlite://./my%20data/easel.db", "./my data/easel.db", true},
		{"sqlite://", "", false},
		{"sqlite://./data/", "", false},
		{"sqlite://./easel.db?mode=ro", "", false},
		{"sqlite://./a%00b.db", "", false},
		{"sqlite://./bad%zz.db", "", false},
		{"file://./easel.db", "", false},
		{"./easel.db", "", false},
	}
	for _, tc := range tests {
		got, err := sqlitestore.PathFromURL(tc.url)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("PathFromURL(%q) = %q, %v; want %q, ok %v", tc.url, got, err, tc.want, tc.ok)
		}
	}
}

func BenchmarkCreateImageMarkReady(b *testing.B) {
	s := open(b, tempPath(b))
	ctx := b.Context()
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		img := &easel.Image{ID: easel.NewID(), UserID: fmt.Sprint("user-", i%10), Status: easel.StatusPending,
			Model: "m", Prompt: "a lighthouse at dusk", Width: 1024, Height: 1024, ContentType: "image/png",
			Bytes: 1 << 20, SHA256: strings.Repeat("ab", 32), CreatedAt: now.Add(time.Duration(i) * time.Millisecond)}
		img.Key = easel.ImageKey(img.ID, img.ContentType)
		if err := s.CreateImage(ctx, img); err != nil {
			b.Fatal(err)
		}
		if err := s.MarkReady(ctx, img.UserID, img.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateImageMarkReadyParallel measures writers racing, as concurrent
// generations do.
func BenchmarkCreateImageMarkReadyParallel(b *testing.B) {
	s := open(b, tempPath(b))
	ctx := b.Context()
	now := time.Now()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			img := &easel.Image{ID: easel.NewID(), UserID: "user-1", Status: easel.StatusPending, Model: "m",
				Prompt: "p", Width: 8, Height: 8, ContentType: "image/png", CreatedAt: now}
			if err := s.CreateImage(ctx, img); err != nil {
				b.Fatal(err)
			}
			if err := s.MarkReady(ctx, img.UserID, img.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkListImages(b *testing.B) {
	s := open(b, tempPath(b))
	ctx := b.Context()
	now := time.Now()
	for i := range 2000 {
		img := &easel.Image{ID: easel.NewID(), UserID: fmt.Sprint("user-", i%4), Status: easel.StatusPending,
			Model: "m", Prompt: "p", Width: 8, Height: 8, ContentType: "image/png", CreatedAt: now.Add(time.Duration(i) * time.Second)}
		if err := s.CreateImage(ctx, img); err != nil {
			b.Fatal(err)
		}
		if err := s.MarkReady(ctx, img.UserID, img.ID); err != nil {
			b.Fatal(err)
		}
	}
	var after *easel.PageCursor
	for b.Loop() {
		page, next, err := s.ListImages(ctx, "user-1", easel.ListOptions{Limit: 20, After: after})
		if err != nil || len(page) == 0 {
			b.Fatalf("ListImages = %d images, %v", len(page), err)
		}
		after = next
	}
}
