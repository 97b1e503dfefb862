package service_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/service"
)

// countingObserver records sweep refusals.
type countingObserver struct {
	service.NopObserver
	mu      sync.Mutex
	refused []string
}

func (o *countingObserver) SweepRefused(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refused = append(o.refused, reason)
}

// oldFile writes name into dir with a modification time an hour ago (past any window).
func oldFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A new catalog pointed at an image folder that another catalog filled (before
// ownership marks existed, so the folder has none): the sweep deletes nothing, says so
// in the log and the metric, and does not mark the folder.
func TestSweepRefusesUnmarkedStoreWithUnknownImages(t *testing.T) {
	ctx := context.Background()
	st, fs, dir := localtest.Stores(t, "http://127.0.0.1/images/")
	images := filepath.Join(dir, "images")
	theirs := []string{easel.ImageKey(easel.NewID(), "image/png"), easel.ThumbKey(easel.NewID(), "image/jpeg"), "notes.txt"}
	for _, name := range theirs {
		oldFile(t, images, name, []byte("not ours"))
	}
	obs := &countingObserver{}
	svc, err := service.New(service.Config{
		Models: []easel.Model{newFixedModel(t, 64, 64)}, Catalog: st, Blobs: fs, Limits: unlimited(),
		SweepAfter: time.Minute, Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.CheckBlobStore(ctx); err != nil {
		t.Fatalf("CheckBlobStore(unmarked) = %v, want nil (the store is used, its sweep is off)", err)
	}
	// New images are stored as usual; the old ones stay unknown, so the store stays unclaimed.
	if _, err := svc.Generate(ctx, &service.Principal{UserID: "alice"}, req("new"), ""); err != nil {
		t.Fatal(err)
	}
	_, err = svc.SweepOrphans(ctx)
	var refused *service.SweepRefusedError
	if !errors.As(err, &refused) || refused.Reason != "unmarked" {
		t.Fatalf("SweepOrphans = %v, want a refusal for an unmarked store", err)
	}
	for _, name := range theirs {
		if _, err := os.Stat(filepath.Join(images, name)); err != nil {
			t.Errorf("%s was deleted: %v", name, err)
		}
	}
	if _, err := fs.Owner(ctx); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("Owner after a refused sweep = %v, want no mark", err)
	}
	if want := []string{"unmarked", "unmarked"}; !slices.Equal(obs.refused, want) {
		t.Errorf("refusals counted = %v, want %v", obs.refused, want)
	}
}

// A store marked by another catalog: serve refuses to start on it, and a sweep
// (should the mark change under a running server) deletes nothing.
func TestSweepRefusesStoreOfAnotherCatalog(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	orphan := easel.ImageKey(easel.NewID(), "image/png")
	oldFile(t, e.dir, orphan, e.model.png)

	st2, _, _ := localtest.Stores(t, "http://127.0.0.1/images/")
	other, err := service.New(service.Config{Models: []easel.Model{e.model}, Catalog: st2, Blobs: e.blobs, Limits: unlimited()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.CheckBlobStore(ctx); err == nil {
		t.Error("CheckBlobStore with another catalog's store = nil, want an error")
	}
	_, err = other.SweepOrphans(ctx)
	var refused *service.SweepRefusedError
	if !errors.As(err, &refused) || refused.Reason != "foreign_mark" {
		t.Fatalf("SweepOrphans over another catalog's store = %v, want a foreign_mark refusal", err)
	}
	if !slices.Contains(e.files(t), orphan) {
		t.Error("another catalog's sweep deleted an image")
	}
}

// In a store this catalog owns, a real orphan is removed and anything Easel did not
// write (keys IDFromKey refuses) is left alone.
func TestSweepDeletesOnlyEaselKeys(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, unlimited())
	orphan := easel.ImageKey(easel.NewID(), "image/png")
	keep := []string{"easel.db", "easel.db-wal", "readme.txt", "photo.png", "aaaaaaaaaaaaaaaaaaaaaaaaaa"}
	oldFile(t, e.dir, orphan, e.model.png)
	for _, name := range keep {
		oldFile(t, e.dir, name, []byte("not Easel's"))
	}
	n, err := e.svc.SweepOrphans(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SweepOrphans = %d, %v; want the one orphan removed", n, err)
	}
	got := dirNames(t, e.dir)
	if slices.Contains(got, orphan) {
		t.Error("the orphan is still there")
	}
	for _, name := range keep {
		if !slices.Contains(got, name) {
			t.Errorf("%s (not an Easel key) was deleted", name)
		}
	}
}
