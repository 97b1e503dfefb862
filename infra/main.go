// Command infra is the CDK app that deploys Easel to AWS (see docs/deploy.md). Run it
// through the CDK CLI (`npx aws-cdk@2 deploy`, app "go run ." in cdk.json) or directly
// with CDK_OUTDIR set to write the CloudFormation templates. Without a binary given
// by -c binary=PATH or EASEL_BINARY, it builds ../cmd/easel for linux/arm64 first.
package main

import (
	"fmt"
	"os"

	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/infra/stacks"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "easel infra:", err)
		os.Exit(1)
	}
}

func run() error {
	defer jsii.Close()
	app, err := stacks.NewApp(stacks.AppOptions{ContextFile: "cdk.context.json"})
	if err != nil {
		return err
	}
	cfg, err := stacks.LoadConfig(stacks.ContextLookup(app), os.Getenv)
	if err != nil {
		return err
	}
	if os.Getenv("CDK_DEFAULT_ACCOUNT") == "" {
		fmt.Fprintln(os.Stderr, "easel infra: CDK_DEFAULT_ACCOUNT is unset; synthesizing for placeholder account",
			stacks.PlaceholderAccount, "(deploying needs AWS credentials)")
	}
	switch {
	case cfg.Compute == stacks.ComputeFargate:
		// The container image is built from the Dockerfile by `cdk deploy`; Build
		// checks that it exists.
	case cfg.BinaryPath == "":
		dir, err := os.MkdirTemp("", "easel-binary-")
		if err != nil {
			return fmt.Errorf("binary build directory: %w", err)
		}
		defer os.RemoveAll(dir)
		if cfg.BinaryPath, err = buildBinary("..", dir); err != nil {
			return err
		}
	default:
		if err := checkBinary(cfg.BinaryPath); err != nil {
			return err
		}
	}
	if _, err := stacks.Build(app, cfg); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}
