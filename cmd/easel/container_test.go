package main

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The container image, checked without a Docker daemon: the Dockerfile is parsed and
// its rules checked, and the binary is built with the very command its build stage
// runs, then started.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY...
	args string
	line int
}

type stage struct {
	from, name string
	body       []instruction
}

func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open Dockerfile: %v", err)
	}
	defer f.Close()
	var (
		stages []stage
		buf    strings.Builder
		start  int
	)
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if buf.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if buf.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			buf.WriteString(cont + " ")
			continue
		}
		buf.WriteString(line)
		full := buf.String()
		buf.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			fields = slices.DeleteFunc(fields, func(s string) bool { return strings.HasPrefix(s, "--platform=") })
			st := stage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile line %d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	return stages
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildCommand returns the build stage's `go build` command line and the variables
// its RUN sets before it.
func buildCommand(t *testing.T, stages []stage) (env map[string]string, args []string) {
	t.Helper()
	for _, st := range stages[:len(stages)-1] {
		for _, in := range st.body {
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
				continue
			}
			env = map[string]string{}
			words := splitWords(in.args)
			i := 0
			for ; i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-"); i++ {
				k, v, _ := strings.Cut(words[i], "=")
				env[k] = v
			}
			return env, words[i:]
		}
	}
	t.Fatal("no RUN ... go build in a build stage")
	return nil, nil
}

// splitWords splits a shell command line on spaces, keeping double-quoted words
// together (without their quotes), enough for the build line.
func splitWords(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

var digestPinned = regexp.MustCompile(`^[a-z0-9./-]+:[a-z0-9.-]+@sha256:[0-9a-f]{64}$`)

func TestContainerDockerfile(t *testing.T) {
	root := repoRoot(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("stages = %d, want a build stage and a runtime stage", len(stages))
	}
	for _, st := range stages {
		if !digestPinned.MatchString(st.from) {
			t.Errorf("FROM %s: want IMAGE:TAG@sha256:DIGEST (pinned, the tag saying what it is)", st.from)
		}
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static-") || !strings.Contains(final.from, ":nonroot@") {
		t.Errorf("runtime stage FROM %s, want distroless static, nonroot", final.from)
	}
	var user, entrypoint string
	env := map[string]string{}
	for _, in := range final.body {
		switch in.cmd {
		case "RUN", "SHELL":
			t.Errorf("line %d: %s in the runtime stage, which has no shell", in.line, in.cmd)
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "CMD":
			if !strings.HasPrefix(in.args, "[") {
				t.Errorf("line %d: CMD in shell form", in.line)
			}
		case "ENV":
			for _, w := range strings.Fields(in.args) {
				if k, v, ok := strings.Cut(w, "="); ok {
					env[k] = v
				}
			}
		case "COPY":
			if strings.Contains(in.args, "/var/lib/easel") && !strings.Contains(in.args, "--chown=65532:65532") {
				t.Errorf("line %d: the data folder is not owned by the nonroot user (65532)", in.line)
			}
		}
	}
	if user != "65532:65532" && user != "nonroot:nonroot" && user != "nonroot" && user != "65532" {
		t.Errorf("USER = %q, want the nonroot user (65532)", user)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil {
		t.Errorf("ENTRYPOINT %s: not the exec (JSON) form: %v", entrypoint, err)
	}
	if !slices.Equal(ep, []string{"/easel", "serve"}) {
		t.Errorf("ENTRYPOINT = %q, want [\"/easel\", \"serve\"]", ep)
	}
	if env["EASEL_DATA"] != "/var/lib/easel" {
		t.Errorf("EASEL_DATA = %q, want /var/lib/easel (the folder the task mounts)", env["EASEL_DATA"])
	}
	if !strings.HasPrefix(env["EASEL_ADDR"], "0.0.0.0:") {
		t.Errorf("EASEL_ADDR = %q, want every interface (a container's loopback is its own)", env["EASEL_ADDR"])
	}
	benv, args := buildCommand(t, stages)
	if benv["CGO_ENABLED"] != "0" || !slices.Contains(args, "-trimpath") || args[len(args)-1] != "./cmd/easel" {
		t.Errorf("build command %v %v: want CGO_ENABLED=0 go build -trimpath ... ./cmd/easel", benv, args)
	}

	// The build context (less .dockerignore) holds every package the binary needs.
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	if !slices.Contains(patterns, ".git") {
		t.Error(".dockerignore does not leave out .git")
	}
	list := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./cmd/easel")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module from the cache, downloaded in the build stage
		}
		first := strings.Split(filepath.ToSlash(rel), "/")[0]
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, first); ok {
				t.Errorf("package folder %s is left out of the build context by .dockerignore %q", rel, p)
			}
		}
	}
}

func TestContainerBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root := repoRoot(t)
	benv, args := buildCommand(t, parseDockerfile(t, filepath.Join(root, "Dockerfile")))
	bin := filepath.Join(t.TempDir(), "easel")
	for i := range args {
		if i > 0 && args[i-1] == "-o" {
			args[i] = bin
		}
	}
	build := exec.Command(args[0], args[1:]...)
	build.Dir = root
	build.Env = os.Environ()
	for k, v := range benv {
		switch k {
		case "GOOS":
			v = runtime.GOOS // the Dockerfile's target, built for this machine so it runs
		case "GOARCH":
			v = runtime.GOARCH
		}
		build.Env = append(build.Env, k+"="+v)
	}
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))

	// Static: no program interpreter, no dynamic section.
	if f, err := elf.Open(bin); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("the binary is dynamically linked (%v)", p.Type)
			}
		}
		f.Close()
	}

	// `serve`, as the entrypoint runs it, with the image's variables (on loopback here).
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(os.Environ(), "EASEL_DATA="+data, "EASEL_ADDR=127.0.0.1:0", "EASEL_LOG_FORMAT=json", "EASEL_DRAIN_DELAY=0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var base string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Easel is serving on "); ok {
			base = strings.TrimSuffix(u, "/")
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if base == "" {
		_ = cmd.Process.Kill()
		t.Fatal("the binary never said where it serves")
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", p, resp.StatusCode)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "easel.db")); err != nil {
		t.Errorf("no catalog in EASEL_DATA: %v", err)
	}
	// ECS stops a task with SIGTERM: a clean exit.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0", err)
	}
}
