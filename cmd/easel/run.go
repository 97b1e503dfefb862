package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

const usage = `Easel turns text prompts into images and keeps them.

Usage:
  easel serve     [flags]          run the service (embedded defaults: offline model, ./easel-data)
  easel generate  [flags] PROMPT   ask a running server for images and save them
  easel keys      create --user NAME | list | revoke ID
  easel migrate   [flags]          create or upgrade the catalog schema
  easel version

Run "easel COMMAND -h" for a command's flags. Every flag has an EASEL_* environment twin.
`

// usageError marks errors that come from how the command was called (exit status 2).
type usageError struct{ error }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// run is the whole program, with its world passed in, so tests boot it on port 0.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no command given")}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "keys":
		return keys(ctx, rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, stdout, stderr)
	case "generate":
		return generate(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "easel", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q", cmd)}
}
