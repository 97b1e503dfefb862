package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/easelhq/easel"
)

// schemaSessions is schema step 4: sign-in sessions (single sign-on). A session is
// its id's SHA-256; expired rows are swept when a session is created.
const schemaSessions = `
CREATE TABLE sessions (
	hash       BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL,
	created_at INTEGER NOT NULL, -- Unix milliseconds
	expires_at INTEGER NOT NULL  -- Unix milliseconds
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_expires ON sessions (expires_at);
`

// sessionSweep bounds the expired sessions deleted by one CreateSession.
const sessionSweep = 100

// CreateSession stores a new session, after deleting a few expired ones. EConflict if
// its hash exists.
func (s *Store) CreateSession(ctx context.Context, sess *easel.Session) error {
	if len(sess.Hash) == 0 || sess.UserID == "" {
		return easel.Errorf(easel.EInvalid, "A session needs a hash and a user.")
	}
	now := toMillis(time.Now())
	return s.inTx(ctx, "create session", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash IN
			(SELECT hash FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, now, sessionSweep); err != nil {
			return dbError("create session: sweep", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, created_at, expires_at)
			VALUES (?, ?, ?, ?)`, sess.Hash, sess.UserID, toMillis(sess.CreatedAt), toMillis(sess.ExpiresAt)); err != nil {
			return dbError("create session", err)
		}
		return nil
	})
}

// SessionByHash returns the live session with that hash. ENotFound if none.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (*easel.Session, error) {
	var (
		sess             easel.Session
		created, expires int64
	)
	err := s.readRow(ctx, `SELECT hash, user_id, created_at, expires_at FROM sessions
		WHERE hash = ? AND expires_at > ?`, hash, toMillis(time.Now())).
		Scan(&sess.Hash, &sess.UserID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, easel.Errorf(easel.ENotFound, "No such session.")
	}
	if err != nil {
		return nil, dbError("get session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &sess, nil
}

// DeleteSession deletes the session with that hash; none is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return dbError("delete session", err)
	}
	return nil
}
