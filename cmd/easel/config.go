package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// envFlags binds flags to environment twins: a flag's default is its EASEL_* variable
// when set, so the order is flag, then environment, then built-in default.
type envFlags struct {
	*flag.FlagSet
	errs []error
}

func newFlags(name string, stderr io.Writer) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &envFlags{FlagSet: fs}
}

func (f *envFlags) env(name string) (string, bool) {
	v, ok := os.LookupEnv(name)
	return v, ok && v != ""
}

func (f *envFlags) String(p *string, name, env, def, help string) {
	if v, ok := f.env(env); ok {
		def = v
	}
	f.StringVar(p, name, def, help+" ($"+env+")")
}

func (f *envFlags) Int(p *int, name, env string, def int, help string) {
	if v, ok := f.env(env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a whole number", env, v))
		} else {
			def = n
		}
	}
	f.IntVar(p, name, def, help+" ($"+env+")")
}

func (f *envFlags) Float(p *float64, name, env string, def float64, help string) {
	if v, ok := f.env(env); ok {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a number", env, v))
		} else {
			def = n
		}
	}
	f.Float64Var(p, name, def, help+" ($"+env+")")
}

func (f *envFlags) Bool(p *bool, name, env string, def bool, help string) {
	if v, ok := f.env(env); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not true or false", env, v))
		} else {
			def = b
		}
	}
	f.BoolVar(p, name, def, help+" ($"+env+")")
}

func (f *envFlags) Duration(p *time.Duration, name, env string, def time.Duration, help string) {
	if v, ok := f.env(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a duration like 30s", env, v))
		} else {
			def = d
		}
	}
	f.DurationVar(p, name, def, help+" ($"+env+")")
}

// List binds a repeatable flag whose environment twin is a comma-separated list.
func (f *envFlags) List(p *[]string, name, env, help string) {
	if v, ok := f.env(env); ok {
		*p = splitList(v)
	}
	fromEnv := true
	f.Func(name, help+" (repeatable; $"+env+", comma-separated)", func(s string) error {
		if fromEnv {
			*p, fromEnv = nil, false
		}
		*p = append(*p, splitList(s)...)
		return nil
	})
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (f *envFlags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if len(f.errs) > 0 {
		return usageError{f.errs[0]}
	}
	return nil
}

// storeFlags are the settings every command that opens the stores shares.
type storeFlags struct {
	data    string
	catalog string
	blob    string
}

func (s *storeFlags) bind(f *envFlags) {
	f.String(&s.data, "data", "EASEL_DATA", "easel-data", "folder for local state (SQLite catalog, images)")
	f.String(&s.catalog, "catalog", "EASEL_CATALOG", "", "catalog URL: sqlite://PATH or dynamodb://TABLE (default sqlite://<data>/easel.db)")
	f.String(&s.blob, "blob", "EASEL_BLOB", "", "blob store URL: file://DIR or s3://BUCKET?prefix=images/ (default file://<data>/images)")
}

func (s *storeFlags) catalogURL() string {
	if s.catalog != "" {
		return s.catalog
	}
	return "sqlite://" + (&url.URL{Path: filepath.Join(s.data, "easel.db")}).EscapedPath()
}

func (s *storeFlags) blobURL() string {
	if s.blob != "" {
		return s.blob
	}
	return "file://" + filepath.Join(s.data, "images")
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
