// Package localtest gives tests the local adapters, ready to use: a migrated SQLite
// catalog and a folder blob store in a temporary folder, closed when the test ends.
package localtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/easelhq/easel/localfs"
	"github.com/easelhq/easel/sqlitestore"
)

// Stores returns a migrated SQLite catalog (<dir>/easel.db) and a folder blob store
// (<dir>/images, its URLs under baseURL) in a fresh temporary folder dir.
func Stores(tb testing.TB, baseURL string) (cat *sqlitestore.Store, blobs *localfs.Store, dir string) {
	tb.Helper()
	ctx := context.Background()
	dir = tb.TempDir()
	cat, err := sqlitestore.Open(ctx, filepath.Join(dir, "easel.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cat.Close() })
	if err := cat.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	blobs, err = localfs.New(filepath.Join(dir, "images"), baseURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { blobs.Close() })
	return cat, blobs, dir
}
