// Command easel runs the Easel image service and its tools: serve, keys, migrate and
// generate. Run "easel help" for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0) // the flag package has printed the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "easel:", err)
		os.Exit(exitCode(err))
	}
}
