package docrun_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/easelhq/easel/internal/docrun"
)

// easelBin is the easel binary the fixtures run against, built once.
var easelBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "docrun-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	easelBin = filepath.Join(dir, "easel")
	build := exec.Command("go", "build", "-o", easelBin, "../../cmd/easel")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/easel: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runFixture(t *testing.T, name string) *docrun.Result {
	t.Helper()
	r := &docrun.Runner{Binary: easelBin}
	return r.RunFile(context.Background(), filepath.Join("testdata", name))
}

// TestFixturesThatHold: documents whose examples do what they say pass, with every
// expectation counted.
func TestFixturesThatHold(t *testing.T) {
	for _, tc := range []struct {
		name                string
		ran, skipped, check int
	}{
		{"good.md", 1, 2, 13},
		{"good_serve.md", 2, 0, 4},
	} {
		res := runFixture(t, tc.name)
		if len(res.Failures) > 0 {
			t.Errorf("%s: %v", tc.name, res.Failures)
		}
		if res.Ran != tc.ran || res.Skipped != tc.skipped || res.Checks != tc.check {
			t.Errorf("%s: ran %d, skipped %d, checked %d; want %d, %d, %d", tc.name, res.Ran, res.Skipped, res.Checks, tc.ran, tc.skipped, tc.check)
		}
	}
}

// TestFixturesThatDrifted: each document states one thing that is not so, and the
// runner fails it at that line, saying what differs.
func TestFixturesThatDrifted(t *testing.T) {
	for _, tc := range []struct {
		name, at, says string
	}{
		{"wrong_field.md", "wrong_field.md:6:", "images[0].width: 256, want 512"},
		{"wrong_status.md", "wrong_status.md:5:", "HTTP status 401, want 200"},
		{"wrong_exit.md", "wrong_exit.md:4:", "exit status 1, want 0"},
		{"wrong_prints.md", "wrong_prints.md:5:", `did not print "This is not printed"`},
		{"unmarked.md", "unmarked.md:3:", "unmarked shell block"},
		{"aws_silent.md", "aws_silent.md:3:", "must say so visibly"},
		{"curl_unchecked.md", "curl_unchecked.md:4:", "must state the status"},
	} {
		res := runFixture(t, tc.name)
		if len(res.Failures) != 1 {
			t.Errorf("%s: %d failures, want 1: %v", tc.name, len(res.Failures), res.Failures)
			continue
		}
		if msg := res.Failures[0].Error(); !strings.Contains(msg, tc.at) || !strings.Contains(msg, tc.says) {
			t.Errorf("%s: failure %q, want it at %s saying %q", tc.name, msg, tc.at, tc.says)
		}
	}
}

// TestParse pins how blocks split into commands and expectations.
func TestParse(t *testing.T) {
	doc := "text\n```sh run\n# a comment for the reader\nA=1 \\\n  B=2\n# → exit 3\n# → 201 {\"a\": [1,\n#   2]}\n\necho x\n```\n```go\nnot shell\n```\n"
	blocks, errs := docrun.Parse("d.md", doc)
	if len(errs) > 0 || len(blocks) != 1 {
		t.Fatalf("Parse = %v, %v", blocks, errs)
	}
	b := blocks[0]
	if b.Line != 2 || len(b.Steps) != 2 || b.Steps[0].Line != 4 || b.Steps[0].Command != "A=1 \\\n  B=2" || b.Steps[1].Command != "echo x" {
		t.Fatalf("steps = %+v", b.Steps)
	}
	e := b.Steps[0].Expect
	if len(e) != 2 || e[0].Exit == nil || *e[0].Exit != 3 || e[1].Status != 201 || !e[1].HasJSON || e[1].Line != 7 {
		t.Errorf("expectations = %+v", e)
	}
	for _, bad := range []string{
		"```sh run\n# → 201\n```\n",                // no command before
		"```sh run\nx\n# → 201 {\"a\":\n```\n",     // JSON never completes
		"```sh run\nx\n# → maybe\n```\n",           // not an expectation
		"```sh nope\nx\n```\n",                     // unknown mark
		"```sh serve\neasel serve\n# → 200\n```\n", // serve blocks only print
		"```sh run\nx\n",                           // not closed
	} {
		if _, errs := docrun.Parse("d.md", bad); len(errs) == 0 {
			t.Errorf("Parse(%q) found no error", bad)
		}
	}
}
