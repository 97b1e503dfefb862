package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/easelhq/easel"
)

const imageColumns = `id, user_id, status, model, prompt, negative_prompt, width, height, seed,
	cfg_scale, style, quality, aspect_ratio, content_type, bytes, sha256, object_key, thumb_key, created_at,
	operation, source_image_id, style_image_id, mask_image_id, operation_fields`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanImage(row scanner) (*easel.Image, error) {
	var (
		img     easel.Image
		seed    int64
		cfg     sql.NullFloat64
		created int64
		fields  string
	)
	err := row.Scan(&img.ID, &img.UserID, &img.Status, &img.Model, &img.Prompt, &img.NegativePrompt,
		&img.Width, &img.Height, &seed, &cfg, &img.Style, &img.Quality, &img.AspectRatio,
		&img.ContentType, &img.Bytes, &img.SHA256, &img.Key, &img.ThumbKey, &created,
		&img.Operation, &img.SourceImageID, &img.StyleImageID, &img.MaskImageID, &fields)
	if err != nil {
		return nil, err
	}
	img.Seed = uint64(seed)
	if cfg.Valid {
		img.CFGScale = &cfg.Float64
	}
	img.CreatedAt = fromMillis(created)
	if fields != "" {
		img.OperationFields = json.RawMessage(fields)
	}
	return &img, nil
}

// CreateImage stores a new record. EConflict if the id exists.
func (s *Store) CreateImage(ctx context.Context, img *easel.Image) error {
	var cfg sql.NullFloat64
	if img.CFGScale != nil {
		cfg = sql.NullFloat64{Float64: *img.CFGScale, Valid: true}
	}
	status := img.Status
	if status == "" {
		status = easel.StatusPending
	}
	_, err := s.exec(ctx, `INSERT INTO images (`+imageColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		img.ID, img.UserID, status, img.Model, img.Prompt, img.NegativePrompt, img.Width, img.Height,
		int64(img.Seed), cfg, img.Style, img.Quality, img.AspectRatio, img.ContentType, img.Bytes,
		img.SHA256, img.Key, img.ThumbKey, toMillis(img.CreatedAt),
		img.Operation, img.SourceImageID, img.StyleImageID, img.MaskImageID, string(img.OperationFields))
	if err != nil {
		return dbError(fmt.Sprintf("create image %s", img.ID), err)
	}
	return nil
}

// MarkReady sets the user's record's status to ready. ENotFound if it is gone.
func (s *Store) MarkReady(ctx context.Context, userID, id string) error {
	return s.updateImage(ctx, "mark image ready", id,
		`UPDATE images SET status = 'ready' WHERE id = ? AND user_id = ?`, id, userID)
}

// SetThumbKey records the thumbnail of the user's image. ENotFound if it is gone.
func (s *Store) SetThumbKey(ctx context.Context, userID, id, thumbKey string) error {
	return s.updateImage(ctx, "set thumbnail", id,
		`UPDATE images SET thumb_key = ? WHERE id = ? AND user_id = ?`, thumbKey, id, userID)
}

// updateImage runs an UPDATE of one record, ENotFound when it touched none.
func (s *Store) updateImage(ctx context.Context, what, id, query string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return dbError(fmt.Sprintf("%s %s", what, id), err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError(fmt.Sprintf("%s %s", what, id), err)
	} else if n == 0 {
		return imageNotFound(id)
	}
	return nil
}

func imageNotFound(id string) error {
	return easel.Errorf(easel.ENotFound, "No image %q.", id)
}

// GetImage returns the user's ready image. ENotFound otherwise.
func (s *Store) GetImage(ctx context.Context, userID, id string) (*easel.Image, error) {
	row := s.readRow(ctx, `SELECT `+imageColumns+` FROM images
		WHERE id = ? AND user_id = ? AND status = 'ready'`, id, userID)
	return oneImage(row, id)
}

// LookupImage returns the record with that id, whatever its owner and status.
func (s *Store) LookupImage(ctx context.Context, id string) (*easel.Image, error) {
	row := s.readRow(ctx, `SELECT `+imageColumns+` FROM images WHERE id = ?`, id)
	return oneImage(row, id)
}

func oneImage(row *sql.Row, id string) (*easel.Image, error) {
	img, err := scanImage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, imageNotFound(id)
	}
	if err != nil {
		return nil, dbError(fmt.Sprintf("get image %s", id), err)
	}
	return img, nil
}

// ListImages returns a page of the user's ready images, newest first. It walks the
// gallery index from the cursor (keyset pagination), reading one row past the page to
// know whether another page follows. A Limit outside 1..easel.MaxPageSize means
// easel.MaxPageSize.
func (s *Store) ListImages(ctx context.Context, userID string, opt easel.ListOptions) ([]*easel.Image, *easel.PageCursor, error) {
	limit := opt.Limit
	if limit < 1 || limit > easel.MaxPageSize {
		limit = easel.MaxPageSize
	}
	query := `SELECT ` + imageColumns + ` FROM images WHERE user_id = ? AND status = 'ready'`
	args := []any{userID}
	if opt.After != nil {
		query += ` AND (created_at, id) < (?, ?)`
		args = append(args, toMillis(opt.After.CreatedAt), opt.After.ID)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	imgs, err := s.queryImages(ctx, "list images", query, args...)
	if err != nil {
		return nil, nil, err
	}
	if len(imgs) <= limit {
		return imgs, nil, nil
	}
	imgs = imgs[:limit]
	last := imgs[limit-1]
	return imgs, &easel.PageCursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// ListPending returns up to limit pending records created before the given time,
// oldest first.
func (s *Store) ListPending(ctx context.Context, before time.Time, limit int) ([]*easel.Image, error) {
	if limit < 1 {
		return nil, nil
	}
	return s.queryImages(ctx, "list pending images", `SELECT `+imageColumns+` FROM images
		WHERE status = 'pending' AND created_at < ? ORDER BY created_at LIMIT ?`, toMillis(before), limit)
}

func (s *Store) queryImages(ctx context.Context, what, query string, args ...any) ([]*easel.Image, error) {
	rows, err := s.read(ctx, query, args...)
	if err != nil {
		return nil, dbError(what, err)
	}
	defer rows.Close()
	var imgs []*easel.Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, dbError(what, err)
		}
		imgs = append(imgs, img)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(what, err)
	}
	return imgs, nil
}

// DeleteImage deletes the user's record and returns it. ENotFound if none.
func (s *Store) DeleteImage(ctx context.Context, userID, id string) (*easel.Image, error) {
	row := s.writeRow(ctx, `DELETE FROM images WHERE id = ? AND user_id = ?
		RETURNING `+imageColumns, id, userID)
	img, err := scanImage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, imageNotFound(id)
	}
	if err != nil {
		return nil, dbError(fmt.Sprintf("delete image %s", id), err)
	}
	return img, nil
}

// DeletePending deletes a record only while it is pending. ENotFound if it is gone or
// ready.
func (s *Store) DeletePending(ctx context.Context, id string) error {
	return s.updateImage(ctx, "delete pending image", id,
		`DELETE FROM images WHERE id = ? AND status = 'pending'`, id)
}
