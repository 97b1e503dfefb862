package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The Go runtime's soft memory limit (debug.SetMemoryLimit, GOMEMLIMIT): near it the
// garbage collector works harder instead of letting the heap grow, so a burst that
// would otherwise double the heap (GOGC=100) is absorbed by GC CPU rather than by
// memory. What the service holds is bounded anyway (--max-inflight,
// --max-images-in-memory, body and answer limits); the limit keeps the collector's
// headroom inside what the machine or container can give.

// memoryFiles are where the limit is derived from; tests point them elsewhere.
type memoryFiles struct {
	cgroupV2, cgroupV1, meminfo string
}

func systemMemoryFiles() memoryFiles {
	return memoryFiles{
		cgroupV2: "/sys/fs/cgroup/memory.max",
		cgroupV1: "/sys/fs/cgroup/memory/memory.limit_in_bytes",
		meminfo:  "/proc/meminfo",
	}
}

// applyMemoryLimit sets the runtime's memory limit from --memory-limit and returns the
// func that restores the previous one (serve runs in-process in tests).
func applyMemoryLimit(spec string, log *slog.Logger) (restore func(), err error) {
	limit, from, err := memoryLimit(spec, systemMemoryFiles())
	if err != nil {
		return nil, err
	}
	prev := debug.SetMemoryLimit(limit)
	if limit == math.MaxInt64 {
		log.Info("no memory limit for the Go runtime", "reason", from)
	} else {
		log.Info("memory limit for the Go runtime", "mib", limit>>20, "from", from)
	}
	return func() { debug.SetMemoryLimit(prev) }, nil
}

// memoryLimit resolves --memory-limit: "off"; a size such as 512MiB or 2GB; or "auto":
// GOMEMLIMIT when set (the runtime has applied it), else 90% of the container's (cgroup)
// memory limit, else 75% of the machine's memory. It returns the limit in bytes
// (math.MaxInt64: none) and where it came from.
func memoryLimit(spec string, files memoryFiles) (int64, string, error) {
	switch spec {
	case "off":
		return math.MaxInt64, "off", nil
	case "auto", "":
		if v := os.Getenv("GOMEMLIMIT"); v != "" && v != "off" {
			return debug.SetMemoryLimit(-1), "GOMEMLIMIT", nil
		}
		if n, ok := cgroupLimit(files); ok {
			return n / 10 * 9, "90% of the cgroup limit", nil
		}
		if n, ok := machineMemory(files.meminfo); ok {
			return n / 4 * 3, "75% of the machine's memory", nil
		}
		return math.MaxInt64, "none found", nil
	}
	n, err := parseBytes(spec)
	if err != nil {
		return 0, "", usageError{fmt.Errorf("--memory-limit %q: want auto, off or a size like 512MiB", spec)}
	}
	return n, "--memory-limit", nil
}

// cgroupLimit reads the memory limit of the process's cgroup (v2, then v1); none when
// it is "max" or v1's "unlimited" (a number near 2^63).
func cgroupLimit(f memoryFiles) (int64, bool) {
	for _, path := range []string{f.cgroupV2, f.cgroupV1} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(s, 10, 64)
		if s == "max" || err != nil || n <= 0 || n >= 1<<62 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// machineMemory reads MemTotal from /proc/meminfo.
func machineMemory(path string) (int64, bool) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil || kb <= 0 {
				return 0, false
			}
			return kb << 10, true
		}
	}
	return 0, false
}

// parseBytes parses a size: a number of bytes, or one with a unit B, KB, MB, GB (powers
// of 1000) or KiB, MiB, GiB (powers of 1024).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v <= 0 || v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q", s)
	}
	return int64(v * mult), nil
}
