package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/easelhq/easel/edittest"
)

// TestCLIEdit: easel edit with a file (uploaded, then the result's source), with an id,
// with a mask and a style image, saving results like easel generate; a refused field
// is named, and wrong calls exit 2 before any request.
func TestCLIEdit(t *testing.T) {
	base, key := startServer(t, "--user-rate=0", "--user-concurrency=0", "--thumbnails=false")
	dir := t.TempDir()
	f := edittest.NewFixtures(t)
	src, mask, style := filepath.Join(dir, "src.png"), filepath.Join(dir, "mask.png"), filepath.Join(dir, "style.png")
	for name, data := range map[string][]byte{src: f.Source, mask: f.Mask, style: f.Style} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	common := []string{"--server", base, "--key", key, "--out", out}
	edit := func(args ...string) (path, source string) {
		t.Helper()
		stdout, stderr, err := runCmd(t, append(append([]string{"edit"}, common...), args...)...)
		if err != nil {
			t.Fatalf("easel edit %v: %v\n%s", args, err, stderr)
		}
		fields := strings.Split(strings.TrimSpace(stdout), "\t")
		if len(fields) != 4 || !strings.HasPrefix(fields[3], "from ") {
			t.Fatalf("easel edit printed %q", stdout)
		}
		return fields[0], strings.TrimPrefix(fields[3], "from ")
	}
	// A file: uploaded; the result is saved and names its source.
	p, source := edit("--op", "outpaint", "--image", src, "--left", "32", "--seed", "9")
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(fh)
	fh.Close()
	if err != nil || cfg.Width != f.W+32 || cfg.Height != f.H {
		t.Fatalf("saved result is %+v (%v), want %dx%d", cfg, err, f.W+32, f.H)
	}
	// An id; a prompt of several words; a mask file; a style image file.
	resultID := strings.TrimSuffix(filepath.Base(p), ".png")
	if _, s := edit("--op", "inpaint", "--image", resultID, "--mask", writeMask(t, dir, f.W+32, f.H), "a", "green", "hill"); s != resultID {
		t.Errorf("inpaint of %s names source %s", resultID, s)
	}
	edit("--op", "erase", "--image", source, "--mask", mask, "--grow-mask", "2")
	edit("--op", "style-transfer", "--image", src, "--style-image", style, "--style-strength", "0.5")
	edit("--op", "search-replace", "--image", src, "--search", "red ball", "a", "yellow", "sun")

	// The server's refusal names the field; wrong calls are exit 2.
	_, _, err = runCmd(t, append(append([]string{"edit"}, common...), "--op", "outpaint", "--image", src, "--left", "5000")...)
	if err == nil || !strings.Contains(err.Error(), "field: left") || exitCode(err) != 1 {
		t.Errorf("outpaint --left 5000 = %v (exit %d)", err, exitCode(err))
	}
	for _, args := range [][]string{
		{"--op", "sharpen", "--image", src},
		{"--image", src},
		{"--op", "erase"},
		{"--op", "outpaint", "--image", src, "--left", "many"},
		{"--op", "erase", "--image", filepath.Join(dir, "missing.png")},
		{"--op", "erase", "--image", src, "--seed", "-2"},
	} {
		_, _, err := runCmd(t, append(append([]string{"edit"}, common...), args...)...)
		if exitCode(err) != 2 {
			t.Errorf("easel edit %v = %v (exit %d), want exit 2", args, err, exitCode(err))
		}
	}
	stdout, _, err := runCmd(t, "edit", "-h")
	if err == nil && exitCode(err) != 0 || !strings.Contains(stdout, "--style-image") {
		t.Errorf("easel edit -h = %v\n%s", err, stdout)
	}
}

// writeMask writes a w×h mask (white in the middle) and returns its path.
func writeMask(t *testing.T, dir string, w, h int) string {
	t.Helper()
	gray := edittest.Gray(w, h) // any w×h greyscale picture will do as a mask
	p := filepath.Join(dir, "mask2.png")
	if err := os.WriteFile(p, gray, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
