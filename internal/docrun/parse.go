// Package docrun runs the shell examples of Markdown documents against the easel
// binary and checks what they answer against the expectations written under them.
//
// A shell block (```sh, bash, shell or console) says in its info string what it is:
//
//	```sh run      the runner runs it, command by command, against a server it started
//	```sh serve    an easel serve command: the runner starts it as the document's server
//	```sh aws      needs an AWS account: not run; its first line is a comment saying so
//	```sh manual   not run (say why in its first line, a comment)
//
// An unmarked shell block is an error, so no example escapes the runner unnoticed.
// Under a command, comment lines starting with "# →" state what it must do:
//
//	# → 201 {"images": [{"width": 1024, "id": "…"}]}   HTTP status of its last curl, and JSON the answer contains
//	# → 404                                             the status only
//	# → exit 2                                          its exit status (otherwise it must be 0)
//	# → prints "Revoked key"                            text in what it printed (stdout or stderr)
//	# → header Retry-After                              a header of its last curl's answer (optionally "Name: value")
//
// In expected JSON, objects match when each expected member matches (others may be
// there), arrays when each expected element matches the actual one at its index, and
// the string "…" matches any value. A command that calls curl must state its status.
package docrun

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Modes of a shell block.
const (
	ModeRun    = "run"
	ModeServe  = "serve"
	ModeAWS    = "aws"
	ModeManual = "manual"
)

// Block is a fenced shell block of a document.
type Block struct {
	File  string
	Line  int // the opening fence's line, from 1
	Mode  string
	Text  string // the block's content
	Steps []Step // ModeRun and ModeServe: the commands and what they must do
}

// Step is one command (continuation lines joined) and its expectations.
type Step struct {
	Line    int
	Command string
	Expect  []Expectation
}

// Expectation is one "# →" line (with its continuation lines).
type Expectation struct {
	Line    int
	Status  int // 0: not checked
	JSON    any // what the answer must contain, when HasJSON
	HasJSON bool
	Exit    *int // nil: not stated (the command must exit 0)
	Prints  string
	Header  string // "Name" or "Name: value"
}

var shellLangs = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true, "zsh": true}

// Parse returns the shell blocks of a Markdown document. Errors name file:line.
func Parse(file, doc string) ([]Block, []error) {
	var (
		blocks []Block
		errs   []error
		in     bool
		cur    *Block
		body   []string
		fence  string
	)
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " ")
		if !in {
			if strings.HasPrefix(trimmed, "```") && len(line)-len(trimmed) <= 3 {
				in, body = true, nil
				fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
				info := strings.Fields(strings.TrimPrefix(trimmed, fence))
				cur = nil
				if len(info) > 0 && shellLangs[info[0]] {
					cur = &Block{File: file, Line: i + 1}
					if len(info) > 1 {
						cur.Mode = info[1]
					}
				}
			}
			continue
		}
		if strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, "`")) == "" {
			in = false
			if cur != nil {
				cur.Text = strings.Join(body, "\n")
				if err := cur.finish(); err != nil {
					errs = append(errs, err)
				} else {
					blocks = append(blocks, *cur)
				}
			}
			continue
		}
		body = append(body, line)
	}
	if in {
		errs = append(errs, fmt.Errorf("%s: a code block is not closed", file))
	}
	return blocks, errs
}

func (b *Block) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", b.File, line, fmt.Sprintf(format, args...))
}

// finish checks the block's marking and splits a runnable block into steps.
func (b *Block) finish() error {
	first := strings.TrimSpace(b.Text)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	switch b.Mode {
	case ModeRun, ModeServe:
		return b.steps()
	case ModeAWS:
		if !strings.HasPrefix(first, "#") || !strings.Contains(first, "AWS") {
			return b.errorf(b.Line, "an aws block must say so visibly: start it with a comment naming AWS, e.g. \"# Needs an AWS account (not run by the docs test)\"")
		}
		return nil
	case ModeManual:
		if !strings.HasPrefix(first, "#") {
			return b.errorf(b.Line, "a manual block must say why it is not run: start it with a comment")
		}
		return nil
	case "":
		return b.errorf(b.Line, "unmarked shell block: mark it ```sh run, serve, aws or manual (see internal/docrun)")
	}
	return b.errorf(b.Line, "unknown block mark %q: want run, serve, aws or manual", b.Mode)
}

func (b *Block) steps() error {
	lines := strings.Split(b.Text, "\n")
	var (
		cur      *Step
		open     *Expectation // an expectation whose JSON continues on the next lines
		openText string
		cont     bool // the previous command line ended with a backslash
	)
	closeOpen := func() error {
		if open == nil {
			return nil
		}
		err := b.errorf(open.Line, "the expected JSON does not parse: %s", openText)
		open = nil
		return err
	}
	for i, raw := range lines {
		n := b.Line + 1 + i
		line := strings.TrimSpace(raw)
		switch {
		case open != nil && strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "# →"):
			openText += " " + strings.TrimSpace(strings.TrimPrefix(line, "#"))
			if json.Valid([]byte(openText)) {
				open.JSON, open.HasJSON = mustJSON(openText), true
				open = nil
			}
			continue
		case open != nil:
			if err := closeOpen(); err != nil {
				return err
			}
		}
		switch {
		case line == "":
			cont = false
		case strings.HasPrefix(line, "# →"):
			if cur == nil {
				return b.errorf(n, "an expectation with no command before it")
			}
			e, rest, err := parseExpectation(strings.TrimSpace(strings.TrimPrefix(line, "# →")))
			if err != nil {
				return b.errorf(n, "%v", err)
			}
			e.Line = n
			cur.Expect = append(cur.Expect, e)
			if rest != "" {
				open, openText = &cur.Expect[len(cur.Expect)-1], rest
			}
			cont = false
		case strings.HasPrefix(line, "#"):
			// a comment for the reader
		case cont:
			cur.Command += "\n" + raw
			cont = strings.HasSuffix(line, "\\")
		default:
			b.Steps = append(b.Steps, Step{Line: n, Command: raw})
			cur = &b.Steps[len(b.Steps)-1]
			cont = strings.HasSuffix(line, "\\")
		}
	}
	if err := closeOpen(); err != nil {
		return err
	}
	if len(b.Steps) == 0 {
		return b.errorf(b.Line, "a %s block with no command", b.Mode)
	}
	if b.Mode == ModeServe && len(b.Steps) != 1 {
		return b.errorf(b.Line, "a serve block holds one command, the easel serve line")
	}
	for _, s := range b.Steps {
		hasStatus := false
		for _, e := range s.Expect {
			hasStatus = hasStatus || e.Status != 0
			if b.Mode == ModeServe && (e.Status != 0 || e.Exit != nil || e.HasJSON || e.Header != "") {
				return b.errorf(e.Line, "a serve block can only expect what it prints")
			}
		}
		if b.Mode == ModeRun && calls(s.Command, "curl") && !hasStatus {
			return b.errorf(s.Line, "a curl example must state the status it answers with: add \"# → NNN\" under it")
		}
	}
	return nil
}

// calls reports whether a command line runs the program name.
func calls(command, name string) bool {
	for _, f := range strings.FieldsFunc(command, func(r rune) bool { return strings.ContainsRune(" \t\n|;&()$", r) }) {
		if f == name {
			return true
		}
	}
	return false
}

// parseExpectation parses what follows "# →". rest is JSON that did not parse yet
// and may continue on the next comment lines.
func parseExpectation(s string) (e Expectation, rest string, err error) {
	switch {
	case strings.HasPrefix(s, "exit "):
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(s, "exit ")))
		if err != nil {
			return e, "", fmt.Errorf("want \"exit N\", got %q", s)
		}
		e.Exit = &n
		return e, "", nil
	case strings.HasPrefix(s, "prints "):
		text, err := strconv.Unquote(strings.TrimSpace(strings.TrimPrefix(s, "prints ")))
		if err != nil || text == "" {
			return e, "", fmt.Errorf("want prints \"text\", got %q", s)
		}
		e.Prints = text
		return e, "", nil
	case strings.HasPrefix(s, "header "):
		e.Header = strings.TrimSpace(strings.TrimPrefix(s, "header "))
		return e, "", nil
	}
	code, tail, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 599 {
		return e, "", fmt.Errorf("want \"NNN [JSON]\", \"exit N\", \"prints \\\"text\\\"\" or \"header Name\", got %q", s)
	}
	e.Status = n
	tail = strings.TrimSpace(tail)
	if tail == "" {
		return e, "", nil
	}
	if json.Valid([]byte(tail)) {
		e.JSON, e.HasJSON = mustJSON(tail), true
		return e, "", nil
	}
	return e, tail, nil
}

func mustJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err) // callers checked json.Valid
	}
	return v
}
