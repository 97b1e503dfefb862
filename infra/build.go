package main

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// buildBinary compiles the easel command in repoRoot for linux/arm64 (Graviton) into
// outDir and returns the binary's path. Its output goes to stderr so that it never
// mixes with what the CDK CLI reads.
func buildBinary(repoRoot, outDir string) (string, error) {
	if _, err := os.Stat(filepath.Join(repoRoot, "cmd", "easel")); err != nil {
		return "", fmt.Errorf("no easel command to build in %s (run from infra/, or give a binary with "+
			"EASEL_BINARY=PATH or -c binary=PATH): %w", repoRoot, err)
	}
	out := filepath.Join(outDir, "easel")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/easel")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	fmt.Fprintln(os.Stderr, "easel infra: building the easel binary for linux/arm64")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build easel for linux/arm64: %w", err)
	}
	return out, nil
}

// checkBinary refuses a given binary that the Graviton instances could not run.
func checkBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("easel binary %q: want a linux/arm64 executable: %w", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return fmt.Errorf("easel binary %q is for %v, want linux/arm64 (GOOS=linux GOARCH=arm64)", path, f.Machine)
	}
	return nil
}
