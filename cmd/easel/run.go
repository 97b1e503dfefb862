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
  easel serve     [flags]           run the service (embedded defaults: offline model, ./easel-data)
  easel generate  [flags] PROMPT    ask a running server for images (a job), follow it, save them
  easel jobs      list | get ID | cancel ID | wait ID
                                    your jobs on a running server: list, show, cancel, follow and save
  easel edit      --op OP --image ID|FILE [flags] [PROMPT]
                                    ask a running server to edit an image and save the results
  easel keys      create --user NAME | list | revoke ID
                                    manage API keys in the catalog serve uses (same --data or --catalog)
  easel migrate   [flags]           create or upgrade the catalog schema
  easel version                     print the version

Run "easel COMMAND -h" for a command's flags. Every flag has an EASEL_* environment twin,
and flags may come before or after the arguments ("--" ends them).
`

// usageError marks errors that come from how the command was called (exit status 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitCode is the process's exit status for what run returned: 0 for success and for
// -h (the usage was asked for and printed), 2 for a wrong call, 1 for anything else.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
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
	case "jobs":
		return jobs(ctx, rest, stdout, stderr)
	case "edit":
		return edit(ctx, rest, stdout, stderr)
	case "version":
		f := newFlags("version", "", "Prints the version of this easel binary.", stdout)
		if err := f.parse(rest); err != nil {
			return err
		}
		if err := f.noArgs(); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "easel", version())
		return nil
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" && rest[0][0] != '-' {
			return run(ctx, []string{rest[0], "-h"}, stdout, stderr) // easel help serve
		}
		fmt.Fprint(stdout, usage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q", cmd)}
}
