package docrun

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DocAddr is the address the documents use for a local server; the runner replaces it
// with the address of the server it started.
const DocAddr = "127.0.0.1:8080"

// Runner runs documents' examples against an easel binary.
type Runner struct {
	// Binary is the easel binary. In examples, "easel" and "go run ./cmd/easel" run it.
	Binary string
	// Log receives one line per block; nil: none.
	Log io.Writer
	// BlockTimeout bounds one block's commands (default 3 minutes).
	BlockTimeout time.Duration
}

// Result is what running one document found.
type Result struct {
	Ran, Skipped int // blocks
	Checks       int // expectations and exit statuses checked
	Failures     []error
}

func (res *Result) failf(file string, line int, format string, args ...any) {
	res.Failures = append(res.Failures, fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
}

// RunFile runs the examples of the Markdown document at path. Each document gets a
// fresh working folder and its own server: its serve block, or else "easel serve" on
// embedded defaults, started before its first runnable block. Commands run in that
// folder with bash, with KEY set to the server's first-start admin key and the easel
// binary on PATH; 127.0.0.1:8080 in a command becomes the server's address.
func (r *Runner) RunFile(ctx context.Context, path string) *Result {
	res := &Result{}
	doc, err := os.ReadFile(path)
	if err != nil {
		res.Failures = append(res.Failures, err)
		return res
	}
	blocks, errs := Parse(path, string(doc))
	res.Failures = append(res.Failures, errs...)
	runnable := false
	for _, b := range blocks {
		runnable = runnable || b.Mode == ModeRun || b.Mode == ModeServe
	}
	if !runnable {
		res.Skipped = len(blocks)
		return res
	}
	work, err := os.MkdirTemp("", "docrun-")
	if err != nil {
		res.Failures = append(res.Failures, err)
		return res
	}
	defer os.RemoveAll(work)
	env, err := r.environment(work)
	if err != nil {
		res.Failures = append(res.Failures, err)
		return res
	}
	var srv *server
	stop := func() {
		if srv == nil {
			return
		}
		if err := srv.stop(); err != nil {
			res.failf(path, srv.line, "the server did not stop cleanly on SIGTERM: %v\n%s", err, srv.logs.tail())
		}
		srv = nil
	}
	defer stop()
	for _, b := range blocks {
		switch b.Mode {
		case ModeAWS, ModeManual:
			res.Skipped++
			r.logf("%s:%d: not run (%s)", path, b.Line, b.Mode)
			continue
		case ModeServe:
			stop()
			srv, err = startServer(ctx, b.Steps[0].Command, b.Line, work, env)
			if err != nil {
				res.failf(path, b.Line, "%v", err)
				return res
			}
			r.checkServe(res, srv, b)
		case ModeRun:
			if srv == nil {
				srv, err = startServer(ctx, "easel serve", b.Line, work, env)
				if err != nil {
					res.failf(path, b.Line, "starting the document's server: %v", err)
					return res
				}
			}
			r.runBlock(ctx, res, srv, b, work, env)
		}
		res.Ran++
		r.logf("%s:%d: ran %d command(s)", path, b.Line, len(b.Steps))
	}
	return res
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

// environment is the commands' environment: the caller's without EASEL_* settings,
// with a bin folder holding easel first on PATH.
func (r *Runner) environment(work string) ([]string, error) {
	bin := filepath.Join(work, ".docrun", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(r.Binary)
	if err != nil {
		return nil, err
	}
	if err := os.Symlink(abs, filepath.Join(bin, "easel")); err != nil {
		return nil, err
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "EASEL_") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH")), nil
}

// rewrite turns a documented command into the one to run.
func rewrite(command, addr string) string {
	command = strings.ReplaceAll(command, "go run ./cmd/easel", "easel")
	command = strings.ReplaceAll(command, DocAddr, addr)
	return strings.ReplaceAll(command, "localhost:8080", addr)
}

// server is a document's easel serve process.
type server struct {
	cmd  *exec.Cmd
	line int
	addr string
	key  string
	out  *buffer // stdout
	logs *buffer // stderr
	done chan error
}

var keyInLink = regexp.MustCompile(`/#key=(\S+)`)

func startServer(ctx context.Context, command string, line int, work string, env []string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &server{line: line, addr: addr, out: &buffer{}, logs: &buffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command("bash", "-c", "exec "+rewrite(command, addr))
	s.cmd.Dir = work
	// The documented default address is taken on a shared machine: EASEL_ADDR moves the
	// server, and commands get the new address in place of 127.0.0.1:8080.
	s.cmd.Env = append(env, "EASEL_ADDR="+addr)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.After(30 * time.Second)
	for {
		out := s.out.String()
		if m := keyInLink.FindStringSubmatch(out); m != nil {
			s.key = m[1]
			return s, nil
		}
		if strings.Contains(out, "\nSign in at ") {
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("%s exited before serving (%v):\n%s%s", command, err, out, s.logs.tail())
		case <-deadline:
			_ = s.cmd.Process.Kill()
			return nil, fmt.Errorf("%s did not start in 30 s:\n%s%s", command, out, s.logs.tail())
		case <-ctx.Done():
			_ = s.cmd.Process.Kill()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, as systemd does, and wants exit status 0 within a minute.
func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		return errors.New("still running a minute after SIGTERM")
	}
}

func (r *Runner) checkServe(res *Result, s *server, b Block) {
	for _, e := range b.Steps[0].Expect {
		res.Checks++
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(s.out.String()+s.logs.String(), e.Prints) {
			if time.Now().After(deadline) {
				res.failf(b.File, e.Line, "the server did not print %q; it printed:\n%s", e.Prints, s.out.String())
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

const statusMark = "@@docrun-status "

// runBlock runs a block's commands in one bash process, each with its output in
// files, then checks each against its expectations.
func (r *Runner) runBlock(ctx context.Context, res *Result, s *server, b Block, work string, env []string) {
	dir, err := os.MkdirTemp(filepath.Join(work, ".docrun"), "block-")
	if err != nil {
		res.failf(b.File, b.Line, "%v", err)
		return
	}
	var script strings.Builder
	script.WriteString("set -o pipefail\n")
	// Every curl reports its status on stderr and keeps its answer's headers.
	script.WriteString(`curl() { command curl -D "$DOCRUN_HEADERS" -w '%{stderr}` + statusMark + `%{http_code}\n' "$@"; }` + "\n")
	for i, st := range b.Steps {
		p := filepath.Join(dir, strconv.Itoa(i))
		fmt.Fprintf(&script, "export DOCRUN_HEADERS=%q\n{\n%s\n} >%q 2>%q </dev/null\necho $? >%q\n",
			p+".h", rewrite(st.Command, s.addr), p+".out", p+".err", p+".rc")
	}
	timeout := r.BlockTimeout
	if timeout <= 0 {
		timeout = 3 * time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, "bash", "-c", script.String())
	cmd.Dir = work
	cmd.Env = append(env, "KEY="+s.key, "EASEL_SERVER=http://"+s.addr)
	out, err := cmd.CombinedOutput()
	if cctx.Err() != nil {
		res.failf(b.File, b.Line, "the block did not finish in %s: %s", timeout, out)
	} else if err != nil {
		res.failf(b.File, b.Line, "bash: %v: %s", err, out)
	}
	for i, st := range b.Steps {
		r.checkStep(res, b, st, filepath.Join(dir, strconv.Itoa(i)), s)
	}
}

func (r *Runner) checkStep(res *Result, b Block, st Step, p string, s *server) {
	read := func(ext string) string { data, _ := os.ReadFile(p + ext); return string(data) }
	rcText := strings.TrimSpace(read(".rc"))
	if rcText == "" {
		res.failf(b.File, st.Line, "did not run (an earlier command ended the block?)")
		return
	}
	rc, _ := strconv.Atoi(rcText)
	stdout := read(".out")
	var stderr strings.Builder
	status := 0
	for _, line := range strings.SplitAfter(read(".err"), "\n") {
		if v, ok := strings.CutPrefix(line, statusMark); ok {
			status, _ = strconv.Atoi(strings.TrimSpace(v))
			continue
		}
		stderr.WriteString(line)
	}
	context := func() string {
		return fmt.Sprintf("\n  command: %s\n  stdout: %.600s\n  stderr: %.600s", strings.TrimSpace(st.Command), strings.TrimSpace(stdout), strings.TrimSpace(stderr.String()))
	}
	wantExit := 0
	for _, e := range st.Expect {
		if e.Exit != nil {
			wantExit = *e.Exit
		}
	}
	res.Checks++
	if rc != wantExit {
		res.failf(b.File, st.Line, "exit status %d, want %d%s", rc, wantExit, context())
	}
	for _, e := range st.Expect {
		res.Checks++
		switch {
		case e.Status != 0:
			if status != e.Status {
				res.failf(b.File, e.Line, "HTTP status %d, want %d%s", status, e.Status, context())
				continue
			}
			if !e.HasJSON {
				continue
			}
			got, err := jsonBody(stdout)
			if err != nil {
				res.failf(b.File, e.Line, "%v%s", err, context())
				continue
			}
			if d := contains(got, e.JSON, ""); d != "" {
				res.failf(b.File, e.Line, "%s%s", d, context())
			}
		case e.Prints != "":
			if !strings.Contains(stdout+stderr.String(), e.Prints) {
				res.failf(b.File, e.Line, "did not print %q%s", e.Prints, context())
			}
		case e.Header != "":
			name, value, _ := strings.Cut(e.Header, ":")
			got, ok := lastHeader(read(".h"), strings.TrimSpace(name))
			if !ok || !strings.Contains(got, strings.TrimSpace(value)) {
				res.failf(b.File, e.Line, "header %s: %q (present: %v), want %q%s", name, got, ok, strings.TrimSpace(value), context())
			}
		}
	}
}

// lastHeader returns a header of the last response in a curl -D file.
func lastHeader(dump, name string) (string, bool) {
	var value string
	found := false
	sc := bufio.NewScanner(strings.NewReader(dump))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "HTTP/") {
			value, found = "", false // a new response
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			value, found = strings.TrimSpace(v), true
		}
	}
	return value, found
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// buffer is an io.Writer safe for one writer and concurrent readers.
type buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// tail returns the last lines written, for a failure message.
func (b *buffer) tail() string {
	s := b.String()
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
