package main

import (
	"errors"
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

// envFlags is one command's flag set. Every flag has an EASEL_* environment twin: a
// flag's default is its variable when set, so the order is flag, then environment,
// then built-in default. Flags may come before, between or after the arguments; "--"
// ends the flags. -h and --help print the usage on stdout.
type envFlags struct {
	*flag.FlagSet
	name  string // "serve", "keys create"
	args  string // what follows the flags in the usage line: "", "ID", "PROMPT"
	about string
	out   io.Writer         // where -h prints
	envOf map[string]string // flag name → environment variable
	errs  []error
	rest  []string // the arguments, flags removed
}

func newFlags(name, args, about string, stdout io.Writer) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own messages and usage go nowhere: parse reports errors, and
	// -h prints usage() on stdout.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &envFlags{FlagSet: fs, name: name, args: args, about: about, out: stdout, envOf: map[string]string{}}
}

func (f *envFlags) env(flagName, env string) (string, bool) {
	f.envOf[flagName] = env
	v, ok := os.LookupEnv(env)
	return v, ok && v != ""
}

func (f *envFlags) String(p *string, name, env, def, help string) {
	if v, ok := f.env(name, env); ok {
		def = v
	}
	f.StringVar(p, name, def, help+" ($"+env+")")
}

func (f *envFlags) Int(p *int, name, env string, def int, help string) {
	if v, ok := f.env(name, env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a whole number", env, v))
		} else {
			def = n
		}
	}
	f.IntVar(p, name, def, help+" ($"+env+")")
}

func (f *envFlags) Int64(p *int64, name, env string, def int64, help string) {
	if v, ok := f.env(name, env); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a whole number", env, v))
		} else {
			def = n
		}
	}
	f.Int64Var(p, name, def, help+" ($"+env+")")
}

func (f *envFlags) Float(p *float64, name, env string, def float64, help string) {
	if v, ok := f.env(name, env); ok {
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
	if v, ok := f.env(name, env); ok {
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
	if v, ok := f.env(name, env); ok {
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
	if v, ok := f.env(name, env); ok {
		*p = splitList(v)
	}
	f.Var(&listValue{p: p, fromEnv: true}, name, help+" (repeatable; $"+env+", comma-separated)")
}

// listValue is a repeatable flag: the first use replaces what the environment gave,
// later ones add to it.
type listValue struct {
	p       *[]string
	fromEnv bool
}

func (l *listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *listValue) Set(s string) error {
	if l.fromEnv {
		*l.p, l.fromEnv = nil, false
	}
	*l.p = append(*l.p, splitList(s)...)
	return nil
}

func (l *listValue) Get() any { return *l.p }

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parse parses flags wherever they are among the arguments: the flag package stops at
// the first argument that is not a flag, so parsing resumes after each one. "--" ends
// the flags; everything after it is an argument, even "-x". The arguments are in Args.
func (f *envFlags) parse(args []string) error {
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.usage(f.out)
				return flag.ErrHelp
			}
			return usageError{fmt.Errorf("%s: %w (see easel %s -h)", f.name, err, f.name)}
		}
		left := f.FlagSet.Args()
		if len(left) == 0 {
			break
		}
		if consumed := len(args) - len(left); consumed > 0 && args[consumed-1] == "--" {
			f.rest = append(f.rest, left...)
			break
		}
		f.rest = append(f.rest, left[0])
		args = left[1:]
	}
	if len(f.errs) > 0 {
		return usageError{fmt.Errorf("%s: %w", f.name, f.errs[0])}
	}
	return nil
}

// Args returns the arguments that are not flags, in order.
func (f *envFlags) Args() []string { return f.rest }

// NArg returns the number of arguments that are not flags.
func (f *envFlags) NArg() int { return len(f.rest) }

// Arg returns the i-th argument that is not a flag, or "".
func (f *envFlags) Arg(i int) string {
	if i < 0 || i >= len(f.rest) {
		return ""
	}
	return f.rest[i]
}

// noArgs refuses arguments for a command that takes none, so that nothing the user
// typed is silently dropped.
func (f *envFlags) noArgs() error {
	if len(f.rest) == 0 {
		return nil
	}
	hint := ""
	if a := f.rest[0]; a == "true" || a == "false" {
		hint = "; a true/false flag takes its value with =, as in --thumbnails=false"
	}
	return usageError{fmt.Errorf("%s takes no arguments, got %q%s (see easel %s -h)", f.name, f.rest[0], hint, f.name)}
}

// usage prints the command's usage line, what it does, and its flags.
func (f *envFlags) usage(w io.Writer) {
	line := "easel " + f.name + " [flags]"
	if f.args != "" {
		line += " " + f.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", line, f.about)
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags (before or after the arguments; -- ends them). Each has the environment\nvariable named in its help:\n")
	f.VisitAll(func(fl *flag.Flag) {
		typ, help := flag.UnquoteUsage(fl)
		if typ == "" {
			typ = "=true|false"
		} else {
			typ = " " + typ
		}
		fmt.Fprintf(w, "  --%s%s\n    \t%s", fl.Name, typ, help)
		if fl.DefValue != "" && fl.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// storeFlags are the settings of the commands that open the stores.
type storeFlags struct {
	data    string
	catalog string
	blob    string
}

// bindCatalog binds the flags that locate the catalog (serve, keys, migrate).
func (s *storeFlags) bindCatalog(f *envFlags) {
	f.String(&s.data, "data", "EASEL_DATA", "easel-data", "folder for local state (SQLite catalog, images)")
	f.String(&s.catalog, "catalog", "EASEL_CATALOG", "", "catalog URL: sqlite://PATH or dynamodb://TABLE[?region=R] (default sqlite://<data>/easel.db)")
}

// bindBlob binds the flag that locates the blob store (serve, migrate).
func (s *storeFlags) bindBlob(f *envFlags) {
	f.String(&s.blob, "blob", "EASEL_BLOB", "", "blob store URL: file://DIR or s3://BUCKET?prefix=images/ (default file://<data>/images)")
}

func (s *storeFlags) bind(f *envFlags) {
	s.bindCatalog(f)
	s.bindBlob(f)
}

func (s *storeFlags) catalogURL() string {
	if s.catalog != "" {
		return s.catalog
	}
	return "sqlite://" + (&url.URL{Path: filepath.Join(s.data, "easel.db")}).EscapedPath()
}

// sameCatalogFlags returns the flags that point another command at this catalog from
// any directory: --catalog when one was given, else --data as an absolute path.
func (s *storeFlags) sameCatalogFlags() string {
	if s.catalog != "" {
		return " --catalog " + shellQuote(catalogPlace(s.catalog))
	}
	data := s.data
	if abs, err := filepath.Abs(data); err == nil {
		data = abs
	}
	return " --data " + shellQuote(data)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
