// Package web holds Easel's browser page: plain HTML, CSS and JavaScript modules
// embedded in the binary, so the page works offline and needs no build step.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

// assetPrefix is where the page's assets are served. Versioned URLs
// (/assets/v-<hash>/app.js) may be cached for ever: a new build changes the hash.
const assetPrefix = "/assets/"

// versionPlaceholder in index.html is replaced by the versioned asset base URL.
const versionPlaceholder = "{{ASSETS}}"

// contentType names the types of the files the page ships. It is fixed here rather
// than read from the system's MIME tables, which differ between machines (a module
// script served as text/plain does not run).
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

type asset struct {
	body        []byte
	etag        string
	contentType string
}

type handler struct {
	index   asset
	assets  map[string]asset // by file name under static/assets
	version string           // "v-" + short hash of every asset
}

// Handler serves the page at "/" (and "/index.html") and its assets under "/assets/".
// Every answer has a strong ETag. index.html is "no-cache" (revalidated each time);
// it links assets under a versioned path that is cached as immutable. Unversioned
// asset paths are served too, revalidated each time. Anything else is 404, and
// directories are never listed.
func Handler() http.Handler {
	h, err := newHandler(files)
	if err != nil {
		// The embedded files are part of the binary; a failure here is a build mistake
		// that the package's tests catch.
		panic(err)
	}
	return h
}

func newHandler(fsys fs.FS) (*handler, error) {
	h := &handler{assets: map[string]asset{}}
	sum := sha256.New()
	err := fs.WalkDir(fsys, "static/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/assets/")
		sum.Write([]byte(name))
		sum.Write(b)
		h.assets[name] = newAsset(name, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.version = "v-" + hex.EncodeToString(sum.Sum(nil))[:16]
	idx, err := fs.ReadFile(fsys, "static/index.html")
	if err != nil {
		return nil, err
	}
	idx = bytes.ReplaceAll(idx, []byte(versionPlaceholder), []byte(assetPrefix+h.version))
	h.index = newAsset("index.html", idx)
	return h, nil
}

func newAsset(name string, b []byte) asset {
	sum := sha256.Sum256(b)
	return asset{body: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, contentType: contentType(name)}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || p == "/index.html":
		serve(w, r, h.index, "no-cache")
		return
	case strings.HasPrefix(p, assetPrefix):
		name := strings.TrimPrefix(p, assetPrefix)
		cache := "no-cache"
		if v, rest, ok := strings.Cut(name, "/"); ok && strings.HasPrefix(v, "v-") {
			name = rest
			if v == h.version {
				cache = "public, max-age=31536000, immutable"
			}
			// Another version (a page from an older or newer build during a rolling
			// deploy) gets this build's file, but never cached as that version.
		}
		if a, ok := h.assets[name]; ok {
			serve(w, r, a, cache)
			return
		}
	}
	http.NotFound(w, r)
}

func serve(w http.ResponseWriter, r *http.Request, a asset, cache string) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", cache)
	hd.Set("ETag", a.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
