package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
)

// imageJSON is an image as the API shows it.
type imageJSON struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	ThumbnailURL   *string   `json:"thumbnail_url"`
	Width          int       `json:"width"`
	Height         int       `json:"height"`
	Seed           uint64    `json:"seed"`
	Model          string    `json:"model"`
	Prompt         string    `json:"prompt"`
	NegativePrompt string    `json:"negative_prompt"`
	AspectRatio    string    `json:"aspect_ratio,omitempty"`
	CFGScale       *float64  `json:"cfg_scale,omitempty"`
	Style          string    `json:"style,omitempty"`
	Quality        string    `json:"quality,omitempty"`
	ContentType    string    `json:"content_type"`
	Bytes          int64     `json:"bytes"`
	SHA256         string    `json:"sha256"`
	CreatedAt      time.Time `json:"created_at"`
}

func (s *Server) imageJSON(r *http.Request, img *easel.Image) (*imageJSON, error) {
	imgURL, thumb, err := s.cfg.Service.ImageURLs(r.Context(), img)
	if err != nil {
		return nil, err
	}
	imgURL, thumb = absoluteURL(r, imgURL), absoluteURL(r, thumb)
	out := &imageJSON{
		ID: img.ID, URL: imgURL, Width: img.Width, Height: img.Height, Seed: img.Seed,
		Model: img.Model, Prompt: img.Prompt, NegativePrompt: img.NegativePrompt,
		AspectRatio: img.AspectRatio, CFGScale: img.CFGScale, Style: img.Style, Quality: img.Quality,
		ContentType: img.ContentType, Bytes: img.Bytes, SHA256: img.SHA256, CreatedAt: img.CreatedAt,
	}
	if thumb != "" {
		out.ThumbnailURL = &thumb
	}
	return out, nil
}

func (s *Server) imagesJSON(r *http.Request, imgs []*easel.Image) ([]*imageJSON, error) {
	out := make([]*imageJSON, 0, len(imgs))
	for _, img := range imgs {
		j, err := s.imageJSON(r, img)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// absoluteURL makes a URL that the blob store gives as a path on this server (a local
// folder served under /images/ with no --public-url) absolute, on the host the caller
// used: a server listening on 0.0.0.0, in a container behind a mapped port, or reached
// by several names then answers URLs that work for that caller. Other URLs are as is.
func absoluteURL(r *http.Request, u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") || !plainHost(r.Host) {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// A TLS-terminating proxy in front (the ALB, a local Caddy) says what the caller used.
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host + u
}

// plainHost reports whether h is a host[:port] made of name, IP and port characters
// only (no user info, path or percent escapes a Host header could carry).
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	writeJSON(w, http.StatusOK, map[string]string{"user": p.UserID, "key_id": p.KeyID})
}

func (s *Server) createImages(w http.ResponseWriter, r *http.Request) {
	var req easel.GenerateRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.cfg.Production {
		s.cfg.Logger.Debug("generate", "user", principalOf(r).UserID, "model", req.Model, "prompt", req.Prompt)
	}
	res, err := s.cfg.Service.Generate(r.Context(), principalOf(r), &req, r.Header.Get("Idempotency-Key"))
	setRateHeaders(w, s.cfg.Service.RateStatus(principalOf(r).UserID))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	imgs, err := s.imagesJSON(r, res.Images)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	body := map[string]any{"images": imgs}
	if res.Filtered > 0 {
		body["filtered"] = res.Filtered
	}
	writeJSON(w, http.StatusCreated, body)
}

func setRateHeaders(w http.ResponseWriter, st service.RateStatus) {
	if st.Limit == 0 {
		return
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(st.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(st.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(int(st.Reset.Seconds()+0.999)))
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, easel.Errorf(easel.EInvalid, "The query string is malformed."))
		return
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.writeError(w, r, easel.ParamErrorf("limit", "limit must be a whole number."))
			return
		}
		if n == 0 {
			n = -1 // explicit 0 is out of range, not "default"
		}
		limit = n
	}
	page, err := s.cfg.Service.ListImages(r.Context(), principalOf(r), limit, q.Get("cursor"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	imgs, err := s.imagesJSON(r, page.Images)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var next *string
	if page.Next != "" {
		next = &page.Next
	}
	writeJSON(w, http.StatusOK, map[string]any{"images": imgs, "next_cursor": next})
}

func (s *Server) getImage(w http.ResponseWriter, r *http.Request) {
	img, err := s.cfg.Service.GetImage(r.Context(), principalOf(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	j, err := s.imageJSON(r, img)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Service.DeleteImage(r.Context(), principalOf(r), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
