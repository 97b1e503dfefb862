package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meminfo := write("meminfo", "MemTotal:        4000000 kB\nMemFree:         1000 kB\n")
	none := filepath.Join(dir, "none")
	for _, tc := range []struct {
		name, spec string
		files      memoryFiles
		want       int64
	}{
		{"container limit (cgroup v2)", "auto", memoryFiles{write("v2", "1073741824\n"), none, meminfo}, 1073741824 / 10 * 9},
		{"no container limit: the machine", "auto", memoryFiles{write("v2max", "max\n"), none, meminfo}, 4000000 << 10 / 4 * 3},
		{"cgroup v1", "", memoryFiles{none, write("v1", "536870912"), meminfo}, 536870912 / 10 * 9},
		{"cgroup v1 unlimited", "auto", memoryFiles{none, write("v1big", "9223372036854771712"), meminfo}, 4000000 << 10 / 4 * 3},
		{"nothing known", "auto", memoryFiles{none, none, none}, math.MaxInt64},
		{"off", "off", memoryFiles{none, none, meminfo}, math.MaxInt64},
		{"MiB", "96MiB", memoryFiles{}, 96 << 20},
		{"GB", "1.5GB", memoryFiles{}, 1_500_000_000},
		{"bytes", "200000000", memoryFiles{}, 200_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, from, err := memoryLimit(tc.spec, tc.files)
			if err != nil || got != tc.want {
				t.Errorf("memoryLimit(%q) = %d (%s), %v; want %d", tc.spec, got, from, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"lots", "-5MiB", "12 parsecs", "0"} {
		if _, _, err := memoryLimit(bad, memoryFiles{}); err == nil {
			t.Errorf("memoryLimit(%q) accepted", bad)
		}
	}
}

func TestServeSetsMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	s := startServerOn(t, t.TempDir(), "--memory-limit", "300MiB")
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("memory limit while serving = %d, want 300 MiB", got)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("memory limit after serve = %d, want the one before (%d)", got, before)
	}
}
