package localfs_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/localfs"
)

// FuzzKey checks that no key, whatever it holds, reads or writes a file outside the
// store's folder. A secret file sits beside the folder, and symbolic links inside the
// folder point at it; Get must never return it, and Put must never create or change
// anything outside. Its seed corpus (testdata/fuzz/FuzzKey) runs with every go test.
func FuzzKey(f *testing.F) {
	parent := f.TempDir()
	secret := []byte("secret outside the store folder")
	for _, name := range []string{"secret.png", "passwd"} {
		if err := os.WriteFile(filepath.Join(parent, name), secret, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	dir := filepath.Join(parent, "store")
	s, err := localfs.New(dir, "http://127.0.0.1:8080/images/")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	links := map[string]string{
		"link.png":  "../secret.png",
		"abs.png":   filepath.Join(parent, "secret.png"),
		"dirlink":   "..",
		"passwdlnk": "../passwd",
	}
	payload := []byte("an object written by the fuzz target")

	f.Fuzz(func(t *testing.T, key string) {
		ctx := t.Context()
		for name, target := range links { // re-planted: a Put may have replaced one
			_ = os.Remove(filepath.Join(dir, name))
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		valid := localfs.ValidKey(key)

		r, _, err := s.Get(ctx, key)
		if err == nil {
			data, rerr := io.ReadAll(r)
			r.Close()
			if rerr != nil {
				t.Fatalf("Get(%q): read: %v", key, rerr)
			}
			if bytes.Contains(data, secret) {
				t.Fatalf("Get(%q) returned the secret file outside the folder", key)
			}
		} else if !valid && easel.ErrorCode(err) != easel.ENotFound {
			t.Fatalf("Get(%q) = %v, want not found for an invalid key", key, err)
		}

		err = s.Put(ctx, key, payload, "")
		switch {
		case !valid && easel.ErrorCode(err) != easel.EInvalid:
			t.Fatalf("Put(%q) = %v, want invalid", key, err)
		case valid && err != nil:
			t.Fatalf("Put(%q) = %v, want it stored", key, err)
		case valid:
			got, rerr := os.ReadFile(filepath.Join(dir, key))
			if rerr != nil || !bytes.Equal(got, payload) {
				t.Fatalf("after Put(%q), the folder's file holds %q (%v), want the payload", key, got, rerr)
			}
			if u, uerr := s.URL(ctx, key); uerr != nil || u != "http://127.0.0.1:8080/images/"+key {
				t.Fatalf("URL(%q) = %q, %v", key, u, uerr)
			}
		}

		checkOutside(t, parent, secret)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Fatalf("after key %q the folder holds %q", key, e.Name())
			}
		}
	})
}

// checkOutside checks that the folder's parent holds only what the test put there.
func checkOutside(t *testing.T, parent string, secret []byte) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"passwd", "secret.png", "store"}; !slices.Equal(names, want) {
		t.Fatalf("the store's parent folder holds %v, want %v", names, want)
	}
	for _, name := range []string{"passwd", "secret.png"} {
		data, err := os.ReadFile(filepath.Join(parent, name))
		if err != nil || !bytes.Equal(data, secret) {
			t.Fatalf("%s outside the folder changed: %q, %v", name, data, err)
		}
	}
}
