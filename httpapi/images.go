package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
)

// imageView is an image as the API shows it to this request: the service's view, with
// URLs the blob store gives as paths on this server made absolute (absoluteURL).
func (s *Server) imageView(r *http.Request, img *easel.Image) (*service.ImageView, error) {
	v, err := s.cfg.Service.ViewImage(r.Context(), img)
	if err != nil {
		return nil, err
	}
	localize(r, v)
	return v, nil
}

func (s *Server) imageViews(r *http.Request, imgs []*easel.Image) ([]*service.ImageView, error) {
	out := make([]*service.ImageView, 0, len(imgs))
	for _, img := range imgs {
		v, err := s.imageView(r, img)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// localize makes an image view's URLs absolute for the request.
func localize(r *http.Request, v *service.ImageView) {
	v.URL = absoluteURL(r, v.URL)
	if v.ThumbnailURL != nil {
		t := absoluteURL(r, *v.ThumbnailURL)
		v.ThumbnailURL = &t
	}
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

// setRateHeaders sets the RateLimit fields of draft-ietf-httpapi-ratelimit-headers-06
// (the last revision with separate Limit, Remaining and Reset fields): Limit is the
// rate, requests per window; the Policy names the window and, as an extension
// parameter, the burst; Remaining is the requests that may be sent now and Reset the
// seconds until the bucket is full again.
func setRateHeaders(w http.ResponseWriter, st service.RateStatus) {
	if st.Limit == 0 {
		return
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(st.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(st.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(int(st.Reset.Seconds()+0.999)))
	h.Set("RateLimit-Policy", fmt.Sprintf("%d;w=%d;burst=%d", st.Limit, int(st.Window.Seconds()), st.Burst))
}

// pageQuery reads a list request's query string and its limit (0 when absent: the
// default; an explicit 0 is out of range, not the default).
func pageQuery(r *http.Request) (url.Values, int, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, 0, easel.Errorf(easel.EInvalid, "The query string is malformed.")
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, 0, easel.ParamErrorf("limit", "limit must be a whole number.")
		}
		if n == 0 {
			n = -1
		}
		limit = n
	}
	return q, limit, nil
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	q, limit, err := pageQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.cfg.Service.ListImages(r.Context(), principalOf(r), limit, q.Get("cursor"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	imgs, err := s.imageViews(r, page.Images)
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
	j, err := s.imageView(r, img)
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
