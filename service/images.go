package service

import (
	"context"
	"fmt"
	"io"

	"github.com/easelhq/easel"
)

// DefaultPageSize is the gallery page size when the caller gives none.
const DefaultPageSize = 24

// Page is a page of a user's gallery.
type Page struct {
	Images []*easel.Image
	// Next is the sealed cursor of the next page, "" at the end.
	Next string
}

// ListImages returns a page of the caller's images, newest first. cursor is "" or a
// value from an earlier Page.Next for the same user.
func (s *Service) ListImages(ctx context.Context, p *Principal, limit int, cursor string) (*Page, error) {
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 1 || limit > easel.MaxPageSize {
		return nil, easel.ParamErrorf("limit", "limit must be between 1 and %d.", easel.MaxPageSize)
	}
	opt := easel.ListOptions{Limit: limit}
	if cursor != "" {
		c, err := s.openCursor(ctx, p.UserID, cursor)
		if err != nil {
			return nil, err
		}
		opt.After = c
	}
	imgs, next, err := s.catalog.ListImages(ctx, p.UserID, opt)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	page := &Page{Images: imgs}
	if next != nil {
		if page.Next, err = s.sealCursor(ctx, p.UserID, next); err != nil {
			return nil, err
		}
	}
	return page, nil
}

func notFound() error {
	return easel.Errorf(easel.ENotFound, "No such image.")
}

// GetImage returns one of the caller's images. Another user's image is ENotFound.
func (s *Service) GetImage(ctx context.Context, p *Principal, id string) (*easel.Image, error) {
	if !easel.ValidID(id) {
		return nil, notFound()
	}
	img, err := s.catalog.GetImage(ctx, p.UserID, id)
	if easel.IsCode(err, easel.ENotFound) {
		return nil, notFound()
	}
	return img, err
}

// DeleteImage deletes one of the caller's images: the record first, then the object
// and thumbnail. If an object delete fails, the sweeper removes it later (it is no
// longer referenced); a record never points at a deleted object.
func (s *Service) DeleteImage(ctx context.Context, p *Principal, id string) error {
	if !easel.ValidID(id) {
		return notFound()
	}
	img, err := s.catalog.DeleteImage(ctx, p.UserID, id)
	if easel.IsCode(err, easel.ENotFound) {
		return notFound()
	}
	if err != nil {
		return fmt.Errorf("delete image: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	for _, key := range []string{img.Key, img.ThumbKey} {
		if key == "" {
			continue
		}
		if err := s.blobs.Delete(ctx, key); err != nil {
			s.log.Warn("delete object; the sweeper will retry", "key", key, "err", err)
		}
	}
	return nil
}

// OpenObject opens a stored object (for answers that embed the image bytes).
func (s *Service) OpenObject(ctx context.Context, key string) (io.ReadCloser, easel.BlobInfo, error) {
	return s.blobs.Get(ctx, key)
}
