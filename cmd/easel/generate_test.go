package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// `easel generate` names files from the ids the server sends: a server answering ids
// that are paths cannot make it write outside --out.
func TestGenerateNeverWritesOutsideOut(t *testing.T) {
	for _, id := range []string{"../../escaped", "../escaped", "/tmp/escaped-abs", "sub/../../escaped", "..", ""} {
		t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusCreated)
					fmt.Fprintf(w, `{"images":[{"id":%q,"url":"/file","seed":1,"content_type":"image/png"}]}`, id)
					return
				}
				w.Write([]byte("\\x89PNG not really"))
			}))
			defer srv.Close()
			top := t.TempDir()
			out := filepath.Join(top, "a", "b", "out")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"generate", "--server", srv.URL, "--key", "k", "--out", out, "a cat"}, &stdout, &stderr)
			if err == nil {
				t.Errorf("generate with image id %q = nil, want an error", id)
			}
			var files []string
			_ = filepath.Walk(top, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if _, err := os.Stat("/tmp/escaped-abs.png"); err == nil {
				os.Remove("/tmp/escaped-abs.png")
				t.Errorf("generate wrote /tmp/escaped-abs.png")
			}
			if len(files) != 0 {
				t.Errorf("generate with image id %q wrote %v", id, files)
			}
		})
	}
}
