package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/easelhq/easel"
)

// BeginIdempotent stores rec as running unless a live record exists for the same user
// and key, in which case it returns that record and EConflict. Expired records are
// replaced, and swept out in the same transaction.
func (s *Store) BeginIdempotent(ctx context.Context, rec *easel.IdempotencyRecord) (*easel.IdempotencyRecord, error) {
	var existing *easel.IdempotencyRecord
	now := toMillis(time.Now())
	err := s.inTx(ctx, "begin idempotent request", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency WHERE expires_at <= ?`, now); err != nil {
			return dbError("begin idempotent request: sweep", err)
		}
		row := tx.QueryRowContext(ctx, `SELECT user_id, idem_key, request_hash, state, status_code,
			response, created_at, expires_at FROM idempotency WHERE user_id = ? AND idem_key = ?`,
			rec.UserID, rec.Key)
		got, err := scanIdem(row)
		switch {
		case err == nil:
			existing = got
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return dbError("begin idempotent request", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO idempotency (user_id, idem_key, request_hash, state,
			status_code, response, created_at, expires_at) VALUES (?, ?, ?, 'running', 0, NULL, ?, ?)`,
			rec.UserID, rec.Key, rec.RequestHash, toMillis(rec.CreatedAt), toMillis(rec.ExpiresAt))
		if err != nil {
			return dbError("begin idempotent request", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return existing, easel.Errorf(easel.EConflict, "A request with this Idempotency-Key exists.")
	}
	return nil, nil
}

func scanIdem(row scanner) (*easel.IdempotencyRecord, error) {
	var (
		r                easel.IdempotencyRecord
		created, expires int64
	)
	if err := row.Scan(&r.UserID, &r.Key, &r.RequestHash, &r.State, &r.StatusCode, &r.Response,
		&created, &expires); err != nil {
		return nil, err
	}
	r.CreatedAt, r.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &r, nil
}

// GetIdempotent returns the live record of the user's key. ENotFound if none.
func (s *Store) GetIdempotent(ctx context.Context, userID, key string) (*easel.IdempotencyRecord, error) {
	row := s.readRow(ctx, `SELECT user_id, idem_key, request_hash, state, status_code,
		response, created_at, expires_at FROM idempotency
		WHERE user_id = ? AND idem_key = ? AND expires_at > ?`, userID, key, toMillis(time.Now()))
	rec, err := scanIdem(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, easel.Errorf(easel.ENotFound, "No request with this Idempotency-Key.")
	}
	if err != nil {
		return nil, dbError("get idempotent request", err)
	}
	return rec, nil
}

// TakeOverIdempotent replaces stale's claim with rec, in one statement conditional on
// the claim: the row must still be running with stale's created_at.
func (s *Store) TakeOverIdempotent(ctx context.Context, stale, rec *easel.IdempotencyRecord) (*easel.IdempotencyRecord, error) {
	res, err := s.exec(ctx, `UPDATE idempotency SET request_hash = ?, state = 'running', status_code = 0,
		response = NULL, created_at = ?, expires_at = ?
		WHERE user_id = ? AND idem_key = ? AND state = ? AND created_at = ? AND expires_at > ?`,
		rec.RequestHash, toMillis(rec.CreatedAt), toMillis(rec.ExpiresAt),
		stale.UserID, stale.Key, string(stale.State), toMillis(stale.CreatedAt), toMillis(time.Now()))
	if err != nil {
		return nil, dbError("take over idempotent request", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, dbError("take over idempotent request", err)
	} else if n == 1 {
		return nil, nil
	}
	cur, err := s.GetIdempotent(ctx, stale.UserID, stale.Key)
	if err != nil && !easel.IsCode(err, easel.ENotFound) {
		return nil, err
	}
	return cur, easel.Errorf(easel.EConflict, "The request with this Idempotency-Key was taken over already.")
}

// FinishIdempotent stores the answer of rec's claim (running, same request hash and
// created_at), and its ExpiresAt when set. ENotFound if that claim is not running.
func (s *Store) FinishIdempotent(ctx context.Context, r *easel.IdempotencyRecord) error {
	var expires sql.NullInt64
	if !r.ExpiresAt.IsZero() {
		expires = sql.NullInt64{Int64: toMillis(r.ExpiresAt), Valid: true}
	}
	res, err := s.exec(ctx, `UPDATE idempotency SET state = 'done', status_code = ?,
		response = ?, expires_at = coalesce(?, expires_at)
		WHERE user_id = ? AND idem_key = ? AND state = 'running' AND request_hash = ? AND created_at = ?`,
		r.StatusCode, r.Response, expires, r.UserID, r.Key, r.RequestHash, toMillis(r.CreatedAt))
	if err != nil {
		return dbError("finish idempotent request", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError("finish idempotent request", err)
	} else if n == 0 {
		return easel.Errorf(easel.ENotFound, "No running request with this Idempotency-Key.")
	}
	return nil
}

// AbortIdempotent deletes rec's claim (running, same created_at), so that the request
// can be retried. A done record, another claim, or none, is left as it is.
func (s *Store) AbortIdempotent(ctx context.Context, r *easel.IdempotencyRecord) error {
	_, err := s.exec(ctx, `DELETE FROM idempotency
		WHERE user_id = ? AND idem_key = ? AND state = 'running' AND created_at = ?`,
		r.UserID, r.Key, toMillis(r.CreatedAt))
	if err != nil {
		return dbError("abort idempotent request", err)
	}
	return nil
}
