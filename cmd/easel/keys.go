package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/easelhq/easel/service"
)

// keys manages API keys directly in the catalog, so it works while serve runs on the
// same data (SQLite in WAL mode, or DynamoDB).
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("keys: want create --user NAME, list, or revoke ID")}
	}
	sub, rest := args[0], args[1:]
	var (
		stores storeFlags
		user   string
	)
	f := newFlags("keys "+sub, stderr)
	stores.bind(f)
	if sub == "create" {
		f.StringVar(&user, "user", "", "the user the key belongs to")
	}
	if err := f.parse(rest); err != nil {
		return err
	}
	var aws awsLoader
	cat, err := openReady(ctx, stores.catalogURL(), &aws)
	if err != nil {
		return err
	}
	defer cat.close()
	switch sub {
	case "create":
		if user == "" {
			return usageError{errors.New("keys create: --user NAME is required")}
		}
		k, key, err := service.CreateKey(ctx, cat, user, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Created key %s for user %s. It is shown only once:\n", k.ID, k.UserID)
		fmt.Fprintln(stdout, key)
		return nil
	case "list":
		ks, err := cat.ListKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tCREATED\tREVOKED")
		for _, k := range ks {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.UserID, k.CreatedAt.UTC().Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if f.NArg() != 1 {
			return usageError{errors.New("keys revoke: give one key ID (see easel keys list)")}
		}
		if err := cat.RevokeKey(ctx, f.Arg(0), time.Now().UTC()); err != nil {
			return fmt.Errorf("revoke %s: %w", f.Arg(0), err)
		}
		fmt.Fprintf(stdout, "Revoked key %s (running servers stop accepting it within 30 s).\n", f.Arg(0))
		return nil
	}
	return usageError{fmt.Errorf("keys: unknown command %q", sub)}
}

// migrate creates or upgrades the catalog schema (a DynamoDB table for development;
// on AWS the CDK app creates the same table).
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var stores storeFlags
	f := newFlags("migrate", stderr)
	stores.bind(f)
	if err := f.parse(args); err != nil {
		return err
	}
	var aws awsLoader
	cat, err := openCatalog(ctx, stores.catalogURL(), &aws)
	if err != nil {
		return err
	}
	defer cat.close()
	if err := cat.migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "Catalog %s is up to date.\n", stores.catalogURL())
	return nil
}
