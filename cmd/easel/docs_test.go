package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel/httpapi"
)

// docFiles are the documents the docs tests read.
func docFiles(t *testing.T) map[string]string {
	t.Helper()
	paths, _ := filepath.Glob("../../docs/*.md")
	paths = append(paths, "../../README.md")
	docs := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs[strings.TrimPrefix(p, "../../")] = string(b)
	}
	return docs
}

// tableRows returns the cells of every Markdown table row in doc.
func tableRows(doc string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}

var (
	flagCell = regexp.MustCompile("^`(--?[a-z][a-z0-9-]*)`$")
	envCell  = regexp.MustCompile("^`(EASEL_[A-Z_]+)`$")
	codeCell = regexp.MustCompile("^`([a-z_]+)`$")
	backtick = regexp.MustCompile("`([^`]*)`")
)

// flagDoc is one documented flag: a table row "| `--flag` | `EASEL_X` | default | ... |",
// or "| `--flag` | default | ... |" in tables without the variable.
type flagDoc struct {
	file, flag, env, def string
}

func documentedFlags(docs map[string]string) []flagDoc {
	var out []flagDoc
	for file, doc := range docs {
		for _, cells := range tableRows(doc) {
			m := flagCell.FindStringSubmatch(cells[0])
			if m == nil || len(cells) < 3 {
				continue
			}
			d := flagDoc{file: file, flag: strings.TrimLeft(m[1], "-")}
			if e := envCell.FindStringSubmatch(cells[1]); e != nil {
				d.env, d.def = e[1], cells[2]
			} else {
				d.def = cells[1]
			}
			out = append(out, d)
		}
	}
	return out
}

// sameDefault reports whether a documented default cell states fl's default: the
// first `literal` in the cell, read as the flag's type; "none" for an empty default.
// A flag whose default is derived (empty in the flag set, e.g. --catalog) must show
// the documented literal in its help.
func sameDefault(fl *flag.Flag, cell string) bool {
	lit := ""
	if m := backtick.FindStringSubmatch(cell); m != nil {
		lit = m[1]
	}
	if fl.DefValue == "" {
		return cell == "none" || (lit != "" && strings.Contains(fl.Usage, lit))
	}
	switch v := fl.Value.(flag.Getter).Get().(type) {
	case time.Duration:
		d, err := time.ParseDuration(lit)
		return err == nil && d == v
	case int, int64, float64:
		n, err := strconv.ParseFloat(lit, 64)
		w, _ := strconv.ParseFloat(fl.DefValue, 64)
		return err == nil && n == w
	}
	return lit == fl.DefValue
}

// TestConfigurationDocumented: every flag of every command is in docs/configuration.md
// with its variable, and every table in the docs and README that names a flag gives its
// variable and default as the flag set has them.
func TestConfigurationDocumented(t *testing.T) {
	docs := docFiles(t)
	documented := documentedFlags(docs)
	sets := commandFlagSets()
	for cmd, f := range sets {
		f.VisitAll(func(fl *flag.Flag) {
			if !slices.ContainsFunc(documented, func(d flagDoc) bool {
				return d.file == "docs/configuration.md" && d.flag == fl.Name && d.env == f.envOf[fl.Name]
			}) {
				t.Errorf("%s --%s ($%s) has no row in docs/configuration.md", cmd, fl.Name, f.envOf[fl.Name])
			}
		})
	}
	for _, d := range documented {
		// The commands that have this flag (with this variable, when one is named).
		var found bool
		for cmd, f := range sets {
			fl := f.Lookup(d.flag)
			if fl == nil || (d.env != "" && f.envOf[d.flag] != d.env) {
				continue
			}
			found = true
			if !sameDefault(fl, d.def) {
				t.Errorf("%s: --%s default %q, but %s --%s defaults to %q (help: %q)", d.file, d.flag, d.def, cmd, d.flag, fl.DefValue, fl.Usage)
			}
		}
		if !found {
			t.Errorf("%s documents --%s (%s), which no command has", d.file, d.flag, d.env)
		}
	}
}

// TestErrorCodesDocumented: the error table in docs/api.md lists every code the API
// answers with, each with the status httpapi.StatusOf gives it.
func TestErrorCodesDocumented(t *testing.T) {
	doc := docFiles(t)["docs/api.md"]
	var listed []string
	for _, cells := range tableRows(doc) {
		m := codeCell.FindStringSubmatch(cells[0])
		if m == nil || len(cells) < 2 {
			continue
		}
		status, err := strconv.Atoi(cells[1])
		if err != nil {
			continue
		}
		listed = append(listed, m[1])
		if !slices.Contains(httpapi.Codes(), m[1]) {
			t.Errorf("docs/api.md lists error code %q, which the API never answers with", m[1])
		} else if got := httpapi.StatusOf(m[1]); got != status {
			t.Errorf("docs/api.md: %s is %d, but httpapi.StatusOf(%q) = %d", m[1], status, m[1], got)
		}
	}
	for _, c := range httpapi.Codes() {
		if !slices.Contains(listed, c) {
			t.Errorf("error code %q (%d) is not in docs/api.md's error table", c, httpapi.StatusOf(c))
		}
	}
}
