// Package sqlitestore is Easel's Catalog over SQLite, for running on one machine. It
// uses modernc.org/sqlite (pure Go, driver "sqlite"), so easel builds with
// CGO_ENABLED=0.
//
// The database is one file in WAL mode, shared safely by the server and CLI commands
// (such as `easel keys create`) running at the same time: every connection sets
// busy_timeout (5 s), foreign_keys and synchronous=NORMAL through the DSN. A Store keeps
// one connection for writes, whose transactions begin IMMEDIATE, and a small pool of
// read-only connections: writers in one process queue in Go instead of spinning in
// SQLite's busy handler, and readers never block them (WAL). Writers in other processes
// wait for the file lock up to the busy timeout; past it a call fails with
// easel.EOverloaded.
//
// Times are stored as Unix milliseconds: they come back in UTC, truncated to the
// millisecond. A seed (uint64) is stored as the int64 with the same bits.
//
// Call Migrate after Open: it creates or upgrades the schema (tracked by
// PRAGMA user_version), each step in a transaction, and does nothing when the schema is
// current, so every process may call it.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/easelhq/easel"
)

// ErrNoWorkerLock is returned by LockWorkers where the system has no file locks.
var ErrNoWorkerLock = errors.New("sqlitestore: no worker lock on this system")

// BusyTimeout is how long a statement waits for another process's write lock.
const BusyTimeout = 5 * time.Second

// maxReaders bounds the pool of read-only connections.
const maxReaders = 4

// Store is a Catalog in a SQLite file. It is safe for concurrent use, and several
// Stores (in one process or several) may share a file.
type Store struct {
	path   string
	writer *sql.DB // one connection; transactions BEGIN IMMEDIATE
	reader *sql.DB // read-only connections
	wstmts *stmts  // prepared on writer
	rstmts *stmts  // prepared on reader
	// signals wakes waiting Queue receivers when a message is sent (queue.go).
	signals signals
	// ckpt runs the WAL checkpoints off the writer (checkpoint.go).
	ckpt *checkpointer
}

var _ easel.Catalog = (*Store)(nil)

// Open opens (creating if needed) the database file at path, and its parent folder.
// It does not touch the schema: call Migrate.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("sqlitestore: create folder: %w", err)
	}
	writer, err := sql.Open("sqlite", dsn(abs, connWriter))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	writer.SetMaxOpenConns(1)
	// The writer connects first: it is the one that may switch a new file to WAL.
	if err := connect(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	reader, err := sql.Open("sqlite", dsn(abs, connReader))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	reader.SetMaxOpenConns(maxReaders)
	reader.SetMaxIdleConns(maxReaders)
	ckpt, err := startCheckpointer(abs)
	if err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	return &Store{path: abs, writer: writer, reader: reader, wstmts: newStmts(writer), rstmts: newStmts(reader), ckpt: ckpt}, nil
}

// connect makes db's first connection. Switching a new file to WAL needs the file to
// itself, and SQLite answers BUSY at once, without waiting out busy_timeout, when
// another process is doing the same: so that case is retried within BusyTimeout.
func connect(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(BusyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// The kinds of connection a Store makes.
const (
	connWriter       = iota // the one writer: IMMEDIATE transactions, no automatic checkpoints
	connReader              // read-only pool
	connCheckpointer        // runs the WAL checkpoints (checkpoint.go)
)

// dsn returns the data source name of the file, with the pragmas every connection
// needs. URI-special characters in the path are escaped.
func dsn(path string, kind int) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	switch kind {
	case connReader:
		q.Add("_pragma", "query_only(ON)")
	case connWriter:
		q.Set("_txlock", "immediate")
		// The commit that crosses the WAL's checkpoint threshold would copy the WAL into
		// the database and fsync it, holding up the write (and the request behind it) for
		// tens of milliseconds on a disk: the checkpointer does that instead.
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	return "file:" + p + "?" + q.Encode()
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.ckpt.stop(), s.rstmts.close(), s.wstmts.close(), s.reader.Close(), s.writer.Close())
}

// Ping checks that the database answers and has a schema.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.reader.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return dbError("ping", err)
	}
	if v == 0 {
		return errors.New("ping: database has no schema (run Migrate)")
	}
	return nil
}

// exec runs a write statement, prepared once, on the writer connection.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.wstmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// writeRow runs a write statement that returns one row, on the writer connection.
func (s *Store) writeRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.wstmts.get(ctx, query)
	if err != nil {
		// A *sql.Row cannot be made from an error: run the query unprepared, which
		// fails the same way and reports it through Scan.
		return s.writer.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// readRow runs a query that returns one row, on a read-only connection.
func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.rstmts.get(ctx, query)
	if err != nil {
		return s.reader.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// read runs a query on a read-only connection.
func (s *Store) read(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.rstmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// inTx runs fn in an immediate transaction on the writer connection.
func (s *Store) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return dbError(what, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbError(what, err)
	}
	return nil
}

// dbError translates a database error into the domain's codes at the boundary.
func dbError(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch code := se.Code(); {
	case isBusy(err):
		// Another process held the file past the busy timeout.
		return &easel.Error{Code: easel.EOverloaded, Message: "The service is busy; try again shortly.",
			RetryAfter: time.Second, Err: err}
	case code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, code == sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return easel.WrapError(easel.EConflict, err, "It already exists.")
	}
	return err
}

func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
