package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ageFiles sets every file in dir an hour into the past, beyond the sweep window.
func ageFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	var names []string
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(dir, e.Name()), old, old); err != nil {
			t.Fatal(err)
		}
		names = append(names, e.Name())
	}
	return names
}

func checkFilesKept(t *testing.T, dir string, names []string) {
	t.Helper()
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s is gone: %v", name, err)
		}
	}
}

// The issue-9 scenario: `easel serve --data NEW --blob file://OLD/images`, a fresh
// catalog with an image folder another catalog filled. Marked by its catalog, the
// folder is refused at start-up; unmarked (images from before the marks), the server
// runs but its orphan sweep deletes nothing and says so. Every file stays.
func TestNewCatalogOnOldImageFolderDeletesNothing(t *testing.T) {
	old := t.TempDir()
	s := startServerOn(t, old)
	c := &apiClient{t: t, base: s.url}
	c.generate(s.key, small("an image of the old catalog"))
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(old, "images")
	names := ageFiles(t, images)

	t.Run("marked by another catalog", func(t *testing.T) {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// With the old code this serves (until the timeout) and sweeps the folder at once.
		err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--blob", "file://" + images,
			"--log-level", "warn"}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "another Easel catalog") {
			t.Errorf("serve on another catalog's image folder = %v, want a refusal naming the other catalog", err)
		}
		checkFilesKept(t, images, names)
	})

	t.Run("unmarked", func(t *testing.T) {
		unmarked := filepath.Join(t.TempDir(), "images")
		if err := os.MkdirAll(unmarked, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if strings.HasPrefix(name, ".") {
				continue // the old catalog's mark: this folder predates marks
			}
			b, err := os.ReadFile(filepath.Join(images, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(unmarked, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		kept := ageFiles(t, unmarked)
		s := startServerOn(t, t.TempDir(), "--blob", "file://"+unmarked)
		deadline := time.Now().Add(10 * time.Second)
		for metricValue(t, s.url, `easel_orphan_sweeps_refused_total{reason="unmarked"}`) < 1 {
			if time.Now().After(deadline) {
				t.Fatal("no sweep refusal counted within 10 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(s.logs.String(), "not known to be this catalog's") {
			t.Errorf("the refusal is not in the log:\n%s", s.logs.String())
		}
		checkFilesKept(t, unmarked, kept)
		// The server still works in that folder.
		c := &apiClient{t: t, base: s.url}
		c.generate(s.key, small("a new image beside the old ones"))
		checkFilesKept(t, unmarked, kept)
	})
}

// `--blob file://DATA` would put the catalog's own files among the objects: refused.
func TestBlobFolderHoldingTheCatalogIsRefused(t *testing.T) {
	data := t.TempDir()
	s := startServerOn(t, data)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	names := ageFiles(t, data)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--blob", "file://" + data,
		"--log-level", "warn"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "contains the catalog") {
		t.Errorf("serve --blob file://DATA = %v, want a refusal", err)
	}
	checkFilesKept(t, data, names)
}
