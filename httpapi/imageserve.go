package httpapi

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/easelhq/easel"
)

// serveImage serves a stored object by key: only keys Easel makes (an id and a known
// extension) reach the store, so odd paths never touch the file system. Objects are
// immutable, so they are cached for a year; Range and conditional requests work when
// the store's reader can seek (the local folder).
func (s *Server) serveImage(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if _, ok := easel.IDFromKey(key); !ok {
		http.NotFound(w, r)
		return
	}
	cacheControl := "public, max-age=31536000, immutable"
	if s.cfg.ImageAccess != nil {
		until, err := s.cfg.ImageAccess(key, r.URL.Query())
		if err != nil {
			s.writeError(w, r, easel.Errorf(easel.EForbidden, "This image URL is not valid: %v.", err))
			return
		}
		// Cached by the browser alone, and no longer than the URL is valid.
		cacheControl = "private, max-age=" + strconv.Itoa(max(0, int(time.Until(until).Seconds())))
	}
	body, info, err := s.cfg.Blobs.Get(r.Context(), key)
	if err != nil {
		if easel.IsCode(err, easel.ENotFound) {
			http.NotFound(w, r)
			return
		}
		s.writeError(w, r, err)
		return
	}
	defer body.Close()
	h := w.Header()
	ct := info.ContentType
	if ct == "" {
		ct = easel.ContentTypeOfKey(key)
	}
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", cacheControl)
	if info.ETag != "" {
		h.Set("ETag", info.ETag)
	}
	if rs, ok := body.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", info.ModTime, rs)
		return
	}
	if info.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	}
	_, _ = io.Copy(w, body)
}
