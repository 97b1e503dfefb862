package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's steps; migrations[i] takes user_version i to i+1. Append
// only: a released step never changes.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE images (
	id              TEXT PRIMARY KEY,
	user_id         TEXT NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('pending', 'ready')),
	model           TEXT NOT NULL,
	prompt          TEXT NOT NULL,
	negative_prompt TEXT NOT NULL,
	width           INTEGER NOT NULL,
	height          INTEGER NOT NULL,
	seed            INTEGER NOT NULL, -- uint64 bits as int64
	cfg_scale       REAL,
	style           TEXT NOT NULL,
	quality         TEXT NOT NULL,
	aspect_ratio    TEXT NOT NULL,
	content_type    TEXT NOT NULL,
	bytes           INTEGER NOT NULL,
	sha256          TEXT NOT NULL,
	object_key      TEXT NOT NULL,
	thumb_key       TEXT NOT NULL,
	created_at      INTEGER NOT NULL -- Unix milliseconds
) STRICT;
-- A user's gallery, newest first: keyset pagination walks this index.
CREATE INDEX images_gallery ON images (user_id, created_at DESC, id DESC) WHERE status = 'ready';
-- The sweeper's pending records, oldest first.
CREATE INDEX images_pending ON images (created_at) WHERE status = 'pending';

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;
CREATE INDEX api_keys_created ON api_keys (created_at, id);

CREATE TABLE idempotency (
	user_id      TEXT NOT NULL,
	idem_key     TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('running', 'done')),
	status_code  INTEGER NOT NULL,
	response     BLOB,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	PRIMARY KEY (user_id, idem_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_expires ON idempotency (expires_at);

CREATE TABLE usage (
	user_id TEXT NOT NULL,
	period  TEXT NOT NULL,
	count   INTEGER NOT NULL,
	PRIMARY KEY (user_id, period)
) STRICT, WITHOUT ROWID;

CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
`,
	// 2: jobs, webhook secrets and the job queue (issue 8); see jobs.go and queue.go.
	schemaJobs,
	// 3: edit lineage on image records (issue 10).
	`
ALTER TABLE images ADD COLUMN operation TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN source_image_id TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN style_image_id TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN mask_image_id TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN operation_fields TEXT NOT NULL DEFAULT '';
`,
	// 4: sign-in sessions (issue 11); see sessions.go.
	schemaSessions,
}

// SchemaVersion is the schema version Migrate brings a database to.
func SchemaVersion() int { return len(migrations) }

// Migrate creates or upgrades the schema. Each step runs in its own immediate
// transaction that also bumps PRAGMA user_version, so concurrent callers (several
// processes starting at once) apply each step once, and a current schema is left
// untouched. A database newer than this code is an error.
func (s *Store) Migrate(ctx context.Context) error {
	for {
		done := false
		err := s.inTx(ctx, "migrate", func(tx *sql.Tx) error {
			var v int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
				return fmt.Errorf("migrate: read version: %w", err)
			}
			switch {
			case v > len(migrations):
				return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", v, len(migrations))
			case v == len(migrations):
				done = true
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v+1, err)
			}
			// PRAGMA takes no parameters; v+1 is an int.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v+1, err)
			}
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}
