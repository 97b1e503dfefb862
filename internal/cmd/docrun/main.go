// Command docrun runs the shell examples of Markdown documents against the built easel
// binary and checks the statuses, fields and output written under them (see package
// internal/docrun for the marks). Usage, from the repository root:
//
//	go run ./internal/cmd/docrun README.md docs/*.md
//
// Without -bin it builds ./cmd/easel first. It exits 1 when an example drifted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/easelhq/easel/internal/docrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "docrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	bin := flag.String("bin", "", "the easel binary (default: go build ./cmd/easel)")
	quiet := flag.Bool("q", false, "print failures only")
	flag.Parse()
	if flag.NArg() == 0 {
		return fmt.Errorf("give Markdown files, e.g. README.md docs/*.md")
	}
	if *bin == "" {
		dir, err := os.MkdirTemp("", "docrun-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*bin = filepath.Join(dir, "easel")
		build := exec.CommandContext(ctx, "go", "build", "-o", *bin, "./cmd/easel")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/easel: %w", err)
		}
	}
	r := &docrun.Runner{Binary: *bin}
	if !*quiet {
		r.Log = os.Stdout
	}
	var ran, skipped, checks, failed int
	for _, path := range flag.Args() {
		res := r.RunFile(ctx, path)
		ran, skipped, checks = ran+res.Ran, skipped+res.Skipped, checks+res.Checks
		for _, err := range res.Failures {
			failed++
			fmt.Fprintln(os.Stderr, "FAIL", err)
		}
	}
	fmt.Printf("docrun: %d blocks run, %d not run (aws or manual), %d checks, %d failed\n", ran, skipped, checks, failed)
	if failed > 0 {
		return fmt.Errorf("%d examples drifted from what the documents say", failed)
	}
	return nil
}
