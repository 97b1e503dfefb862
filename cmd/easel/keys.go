package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/easelhq/easel/service"
)

const keysUsage = `Usage: easel keys COMMAND [flags]

Manages API keys directly in the catalog, so it works while easel serve runs. Give it
the same --data (or --catalog) as the server: a key made in another catalog is unknown
to the server (401).

Commands:
  create --user NAME   make a key for NAME; the key is printed once, on stdout
  list                 list the keys (ids, users, dates; never the keys themselves)
  revoke ID            revoke a key; running servers refuse it within 30 s

Run "easel keys COMMAND -h" for a command's flags.
`

// keysFlags are the settings of one keys command.
type keysFlags struct {
	stores storeFlags
	user   string
	init   bool
}

func (k *keysFlags) bind(f *envFlags, sub string) {
	k.stores.bindCatalog(f)
	if sub == "create" {
		f.String(&k.user, "user", "EASEL_KEYS_USER", "", "the user the key belongs to (required)")
		f.Bool(&k.init, "init", "EASEL_KEYS_INIT", false, "create the catalog if it does not exist yet (otherwise that is an error)")
	}
}

// keys manages API keys directly in the catalog, so it works while serve runs on the
// same data (SQLite in WAL mode, or DynamoDB). It never creates a catalog unless told
// to (--init): a new one next to the server's would make keys the server never sees.
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return usageError{errors.New("keys: give a command: create, list or revoke")}
	}
	sub, rest := args[0], args[1:]
	var about, argsUsage string
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return flag.ErrHelp
	case "create":
		about = "Makes an API key for a user and prints it once, on stdout (the last line). The\ncatalog it wrote to is named on stderr."
	case "list":
		about = "Lists the API keys in the catalog: id, user, created, revoked. Keys themselves are\nstored only as hashes and cannot be shown."
	case "revoke":
		about = "Revokes an API key by its id (see easel keys list). Running servers refuse it\nwithin 30 s."
		argsUsage = "ID"
	default:
		fmt.Fprint(stderr, keysUsage)
		if len(sub) > 0 && sub[0] == '-' {
			return usageError{fmt.Errorf("keys: give the command first, then its flags: easel keys create|list|revoke [flags]")}
		}
		return usageError{fmt.Errorf("keys: unknown command %q (want create, list or revoke)", sub)}
	}
	var k keysFlags
	f := newFlags("keys "+sub, argsUsage, about, stdout)
	k.bind(f, sub)
	if err := f.parse(rest); err != nil {
		return err
	}
	stores, user, initCat := k.stores, k.user, k.init
	switch {
	case sub == "revoke" && f.NArg() != 1:
		return usageError{errors.New("keys revoke: give one key ID (see easel keys list)")}
	case sub != "revoke":
		if err := f.noArgs(); err != nil {
			return err
		}
	}
	if sub == "create" && user == "" {
		return usageError{errors.New("keys create: --user NAME is required")}
	}

	var aws awsLoader
	raw := stores.catalogURL()
	place := catalogPlace(raw)
	exists, err := catalogExists(ctx, raw, &aws)
	if err != nil {
		return err
	}
	if !exists && !initCat {
		hint := "add --init to create a new one"
		if sub != "create" {
			hint = "easel keys create --init makes a new one"
		}
		return usageError{fmt.Errorf("keys %s: there is no catalog at %s. Use the --data (or --catalog) that easel serve uses, or %s", sub, place, hint)}
	}
	cat, err := openReady(ctx, raw, &aws)
	if err != nil {
		return err
	}
	defer cat.close()
	if !exists {
		if err := cat.migrate(ctx); err != nil { // a new DynamoDB table; SQLite is done
			return fmt.Errorf("create catalog %s: %w", place, err)
		}
		fmt.Fprintf(stderr, "Created catalog %s.\n", place)
	}
	switch sub {
	case "create":
		k, key, err := service.CreateKey(ctx, cat, user, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Created key %s for user %s in catalog %s. It is shown only once:\n", k.ID, k.UserID, place)
		fmt.Fprintln(stdout, key)
		return nil
	case "list":
		ks, err := cat.ListKeys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Keys in catalog %s:\n", place)
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
	default: // revoke
		id := f.Arg(0)
		if err := cat.RevokeKey(ctx, id, time.Now().UTC()); err != nil {
			return fmt.Errorf("revoke %s in catalog %s: %w", id, place, err)
		}
		fmt.Fprintf(stdout, "Revoked key %s in catalog %s (running servers stop accepting it within 30 s).\n", id, place)
		return nil
	}
}

// migrate creates or upgrades the catalog schema (a DynamoDB table for development;
// on AWS the CDK app creates the same table), and with --blob checks the blob store.
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var stores storeFlags
	f := newFlags("migrate", "", "Creates the catalog if it does not exist (a SQLite file, or a DynamoDB table for\ndevelopment; on AWS the CDK app makes the table) and upgrades its schema. With\n--blob it also opens the blob store and checks that it answers.", stdout)
	stores.bind(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if err := f.noArgs(); err != nil {
		return err
	}
	var aws awsLoader
	raw := stores.catalogURL()
	place := catalogPlace(raw)
	exists, err := catalogExists(ctx, raw, &aws)
	if err != nil {
		return err
	}
	cat, err := openCatalog(ctx, raw, &aws)
	if err != nil {
		return err
	}
	defer cat.close()
	if err := cat.migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", place, err)
	}
	if exists {
		fmt.Fprintf(stdout, "Catalog %s is up to date.\n", place)
	} else {
		fmt.Fprintf(stdout, "Created catalog %s.\n", place)
	}
	if stores.blob != "" {
		// Only when asked: the default blob folder is not migrate's to create.
		blobs, _, err := openBlobs(ctx, stores.blob, imageBase("", stores.blob), 0, &aws)
		if err != nil {
			return err
		}
		if err := blobs.Ping(ctx); err != nil {
			return fmt.Errorf("blob store %s: %w", stores.blob, err)
		}
		fmt.Fprintf(stdout, "Blob store %s answers.\n", stores.blob)
	}
	return nil
}
