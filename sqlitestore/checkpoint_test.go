package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The writer never checkpoints (so no write waits for an fsync of the database file);
// the checkpointer copies the WAL in the background instead, while writes go on.
func TestCheckpointsOffTheWriter(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var auto int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer's wal_autocheckpoint = %d, %v; want 0", auto, err)
	}
	if _, err := s.writer.ExecContext(ctx, "CREATE TABLE t (x BLOB)"); err != nil {
		t.Fatal(err)
	}
	// ~2,000 pages of WAL, past SQLite's default threshold of 1,000.
	blob := []byte(strings.Repeat("x", 4000))
	for i := range 2000 {
		if _, err := s.writer.ExecContext(ctx, "INSERT INTO t (x) VALUES (?)", blob); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.ckpt.frames.Load() < 1000 {
		if time.Now().After(deadline) {
			t.Fatalf("checkpointer copied %d frames in 10 s, want at least 1000", s.ckpt.frames.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.ckpt.stop(); err != nil { // twice is fine
		t.Fatal(err)
	}
}
