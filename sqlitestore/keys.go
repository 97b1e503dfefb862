package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/easelhq/easel"
)

// CreateKey stores a key. EConflict if its id or hash exists.
func (s *Store) CreateKey(ctx context.Context, k *easel.APIKey) error {
	var revoked sql.NullInt64
	if k.RevokedAt != nil {
		revoked = sql.NullInt64{Int64: toMillis(*k.RevokedAt), Valid: true}
	}
	_, err := s.exec(ctx, `INSERT INTO api_keys (id, user_id, hash, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?)`, k.ID, k.UserID, k.Hash, toMillis(k.CreatedAt), revoked)
	if err != nil {
		return dbError(fmt.Sprintf("create key %s", k.ID), err)
	}
	return nil
}

func scanKey(row scanner) (*easel.APIKey, error) {
	var (
		k       easel.APIKey
		created int64
		revoked sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.UserID, &k.Hash, &created, &revoked); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMillis(created)
	if revoked.Valid {
		at := fromMillis(revoked.Int64)
		k.RevokedAt = &at
	}
	return &k, nil
}

// KeyByHash returns the key with that hash, revoked or not. ENotFound if none.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (*easel.APIKey, error) {
	row := s.readRow(ctx, `SELECT id, user_id, hash, created_at, revoked_at
		FROM api_keys WHERE hash = ?`, hash)
	k, err := scanKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, easel.Errorf(easel.ENotFound, "No such API key.")
	}
	if err != nil {
		return nil, dbError("get key", err)
	}
	return k, nil
}

// ListKeys returns all keys, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*easel.APIKey, error) {
	rows, err := s.read(ctx, `SELECT id, user_id, hash, created_at, revoked_at
		FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, dbError("list keys", err)
	}
	defer rows.Close()
	var keys []*easel.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, dbError("list keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("list keys", err)
	}
	return keys, nil
}

// RevokeKey marks a key revoked; a key revoked before keeps its first revocation time.
// ENotFound if there is no such key.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)
		WHERE id = ?`, toMillis(at), id)
	if err != nil {
		return dbError(fmt.Sprintf("revoke key %s", id), err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError(fmt.Sprintf("revoke key %s", id), err)
	} else if n == 0 {
		return easel.Errorf(easel.ENotFound, "No API key %q.", id)
	}
	return nil
}

// Setting returns the value stored under name, storing value first if there is none.
// The insert is atomic across processes, so the first writer wins.
func (s *Store) Setting(ctx context.Context, name string, value []byte) ([]byte, error) {
	if value == nil {
		value = []byte{}
	}
	var got []byte
	err := s.writeRow(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = value RETURNING value`, name, value).Scan(&got)
	if err != nil {
		return nil, dbError(fmt.Sprintf("setting %s", name), err)
	}
	return got, nil
}
