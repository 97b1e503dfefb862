package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// proxyLog records the requests a jobsProxy passed on.
type proxyLog struct {
	mu   sync.Mutex
	reqs []proxied
}

type proxied struct {
	method, path, prefer, lastEventID string
}

func (l *proxyLog) all() []proxied {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]proxied(nil), l.reqs...)
}

// jobsProxy passes requests on to the server at target and records them. With
// dropAfter > 0 it cuts the first event stream off after that many events, as a
// proxy or a network would.
func jobsProxy(t *testing.T, target string, dropAfter int) (string, *proxyLog) {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	log := &proxyLog{}
	var streams int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.mu.Lock()
		log.reqs = append(log.reqs, proxied{r.Method, r.URL.Path, r.Header.Get("Prefer"), r.Header.Get("Last-Event-ID")})
		isStream := strings.HasSuffix(r.URL.Path, "/events")
		if isStream {
			streams++
		}
		drop := isStream && streams == 1 && dropAfter > 0
		log.mu.Unlock()
		if !drop {
			rp.ServeHTTP(w, r)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), nil)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("proxy: %v", err)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		sc := bufio.NewScanner(resp.Body)
		events, inEvent := 0, false
		for sc.Scan() {
			w.Write([]byte(sc.Text() + "\n"))
			w.(http.Flusher).Flush()
			switch {
			case strings.HasPrefix(sc.Text(), "id:"):
				inEvent = true
			case sc.Text() == "" && inEvent:
				inEvent = false
				if events++; events == dropAfter {
					// The connection breaks once the client had time to read what came
					// (a reader may drop data it had not read when the stream errs).
					time.Sleep(300 * time.Millisecond)
					panic(http.ErrAbortHandler)
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, log
}

// jobIDIn finds the job id in a status line "Job ID queued...".
func jobIDIn(t *testing.T, stderr string) string {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if rest, ok := strings.CutPrefix(line, "Job "); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("no job named in %q", stderr)
	return ""
}

// savedFiles checks each stdout line "PATH\tURL\tseed N" names a file that exists.
func savedFiles(t *testing.T, stdout string) []string {
	t.Helper()
	var paths []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		path, _, _ := strings.Cut(line, "\t")
		if st, err := os.Stat(path); err != nil || st.Size() == 0 {
			t.Errorf("generate printed %q, but the file is not there: %v", path, err)
		}
		paths = append(paths, path)
	}
	return paths
}

// TestGenerateFollowsItsJob: easel generate submits a job (Prefer: respond-async),
// follows its event stream (status lines on stderr) and saves each image as it is
// ready.
func TestGenerateFollowsItsJob(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--thumbnails=false")
	proxy, log := jobsProxy(t, s.url, 0)
	out := filepath.Join(t.TempDir(), "pics")
	stdout, stderr, err := runCmd(t, "generate", "--key", s.key, "--server", proxy, "--size", "256x256", "-n", "2", "--out", out, "a harbour at dawn")
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	if paths := savedFiles(t, stdout); len(paths) != 2 || filepath.Dir(paths[0]) != out {
		t.Errorf("generate -n 2 saved %v, want 2 files in %s", paths, out)
	}
	id := jobIDIn(t, stderr)
	for _, want := range []string{"Job " + id + " queued, position ", "Job " + id + " running", "Job " + id + " succeeded: 2 images"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	reqs := log.all()
	if len(reqs) < 2 || reqs[0].method != "POST" || reqs[0].prefer != "respond-async" || reqs[1].path != "/v1/jobs/"+id+"/events" {
		t.Errorf("requests = %+v, want POST with Prefer: respond-async, then the job's events", reqs)
	}
	c := &apiClient{t, s.url}
	if r := c.do("GET", "/v1/jobs/"+id, s.key, nil); r.json(t)["status"] != "succeeded" {
		t.Errorf("job = %s", r.body)
	}
}

// TestGenerateAsyncAndJobsCommands: generate --async prints the job id and nothing
// else on stdout; jobs get, list, wait and cancel work on it.
func TestGenerateAsyncAndJobsCommands(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--thumbnails=false")
	stdout, stderr, err := runCmd(t, "generate", "--async", "--key", s.key, "--server", s.url, "--size", "256x256", "--out", t.TempDir(), "a red kite")
	if err != nil {
		t.Fatalf("generate --async: %v\n%s", err, stderr)
	}
	id := strings.TrimSuffix(stdout, "\n")
	if strings.ContainsAny(id, " \t\n") || id == "" {
		t.Fatalf("generate --async printed %q, want the job id alone", stdout)
	}
	cli := func(args ...string) (string, string, error) {
		return runCmd(t, append(args, "--key", s.key, "--server", s.url)...)
	}

	out := t.TempDir()
	stdout, stderr, err = cli("jobs", "wait", id, "--out", out)
	if err != nil || len(savedFiles(t, stdout)) != 1 || !strings.Contains(stderr, "succeeded") {
		t.Fatalf("jobs wait = %v, %q %q; want one image saved", err, stdout, stderr)
	}
	stdout, _, err = cli("jobs", "get", id)
	var job map[string]any
	if err != nil || json.Unmarshal([]byte(stdout), &job) != nil || job["id"] != id || job["status"] != "succeeded" {
		t.Errorf("jobs get = %v, %q", err, stdout)
	}
	stdout, _, err = cli("jobs", "list")
	if err != nil || !strings.HasPrefix(stdout, "ID") || !strings.Contains(stdout, id) || !strings.Contains(stdout, "a red kite") {
		t.Errorf("jobs list = %v, %q", err, stdout)
	}
	stdout, _, err = cli("jobs", "list", "--status", "queued,running")
	if err != nil || strings.Contains(stdout, id) {
		t.Errorf("jobs list --status queued,running = %v, %q; want the ended job left out", err, stdout)
	}
	// Pages: two jobs, one a page.
	if _, _, err := cli("generate", "--size", "256x256", "--out", out, "another"); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err = cli("jobs", "list", "--limit", "1")
	if err != nil || strings.Count(stdout, "\n") != 2 || !strings.Contains(stderr, "easel jobs list --cursor ") {
		t.Errorf("jobs list --limit 1 = %v, %q %q; want one job and the next page's command", err, stdout, stderr)
	}
	_, _, err = cli("jobs", "cancel", id)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "already ended (succeeded)") {
		t.Errorf("jobs cancel of an ended job = %v, want exit 1 saying it ended", err)
	}
	_, _, err = cli("jobs", "get", "abcdefghijklmnopqrstuvwxyz")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "404") {
		t.Errorf("jobs get of an unknown job = %v, want a 404 error", err)
	}
}

// TestGenerateCtrlCLeavesTheJobRunning: Ctrl-C stops following, not the job, and the
// error says how to follow it again; jobs wait does, and jobs cancel stops a queued
// job before it reaches the model.
func TestGenerateCtrlCLeavesTheJobRunning(t *testing.T) {
	const core = "stability.stable-image-core-v1:1"
	fake := bedrockFake(t, bedrocktest.WithSmallImages(), bedrocktest.WithLatency(1500*time.Millisecond))
	s := startServerOn(t, t.TempDir(), "--model", "bedrock:core", "--workers", "1", "--user-concurrency", "0", "--thumbnails=false")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"generate", "--key", s.key, "--server", s.url, "--out", t.TempDir(), "a slow boat"}, &stdout, stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), " running") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	id := jobIDIn(t, stderr.String())
	cancel() // Ctrl-C
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "easel jobs wait "+id) {
		t.Fatalf("generate after Ctrl-C = %v, want the command to follow the job again", err)
	}
	cli := func(args ...string) (string, string, error) {
		return runCmd(t, append(args, "--key", s.key, "--server", s.url)...)
	}
	// A second job waits behind the first (one worker), and is canceled there.
	queued, _, err := cli("generate", "--async", "another slow boat")
	if err != nil {
		t.Fatal(err)
	}
	queued = strings.TrimSpace(queued)
	if stdout, _, err := cli("jobs", "cancel", queued); err != nil || stdout != "Job "+queued+" is canceled\n" {
		t.Errorf("jobs cancel of a queued job = %v, %q", err, stdout)
	}
	if stdout, _, _ := cli("jobs", "get", id); !strings.Contains(stdout, `"status": "running"`) && !strings.Contains(stdout, `"status": "succeeded"`) {
		t.Errorf("the job after Ctrl-C: %s, want it running on", stdout)
	}
	out := t.TempDir()
	stdout2, stderr2, err := cli("jobs", "wait", id, "--out", out)
	if err != nil || len(savedFiles(t, stdout2)) != 1 {
		t.Fatalf("jobs wait after Ctrl-C = %v, %q %q", err, stdout2, stderr2)
	}
	_, stderr3, err := cli("jobs", "wait", queued, "--out", out)
	if err == nil || !strings.Contains(err.Error(), "was canceled") || !strings.Contains(stderr3, "canceled") {
		t.Errorf("jobs wait of the canceled job = %v, %q", err, stderr3)
	}
	if n := fake.Calls(core); n != 1 {
		t.Errorf("model calls = %d, want 1 (the canceled job never ran)", n)
	}
}

// TestGenerateWithoutAQueue: against a server with no job queue, generate asks in
// one request and says so; --async cannot work and says why.
func TestGenerateWithoutAQueue(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--queue", "none", "--thumbnails=false")
	stdout, stderr, err := runCmd(t, "generate", "--key", s.key, "--server", s.url, "--size", "256x256", "--out", t.TempDir(), "a kettle")
	if err != nil || len(savedFiles(t, stdout)) != 1 || !strings.Contains(stderr, "no job queue") {
		t.Errorf("generate without a queue = %v, %q %q; want one image and a note", err, stdout, stderr)
	}
	stdout, _, err = runCmd(t, "generate", "--async", "--key", s.key, "--server", s.url, "a kettle")
	if exitCode(err) != 1 || stdout != "" || !strings.Contains(err.Error(), "--async needs a server with a job queue") {
		t.Errorf("generate --async without a queue = %v, %q", err, stdout)
	}
}

// TestJobsWaitResumesAfterADroppedStream: when the event stream breaks, jobs wait
// reconnects with Last-Event-ID and handles each event once.
func TestJobsWaitResumesAfterADroppedStream(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--thumbnails=false")
	proxy, log := jobsProxy(t, s.url, 2) // after job.queued and job.running
	id, _, err := runCmd(t, "generate", "--async", "--key", s.key, "--server", s.url, "--size", "256x256", "-n", "2", "two gulls")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	stdout, stderr, err := runCmd(t, "jobs", "wait", id, "--key", s.key, "--server", proxy, "--out", t.TempDir())
	if err != nil {
		t.Fatalf("jobs wait: %v\n%s", err, stderr)
	}
	if paths := savedFiles(t, stdout); len(paths) != 2 || paths[0] == paths[1] {
		t.Errorf("jobs wait saved %v, want the 2 images once each", paths)
	}
	if !strings.Contains(stderr, "reconnecting after event 2") || strings.Count(stderr, "running") != 1 {
		t.Errorf("stderr = %q, want one reconnect and each status once", stderr)
	}
	var streams []string
	for _, r := range log.all() {
		if strings.HasSuffix(r.path, "/events") {
			streams = append(streams, r.lastEventID)
		}
	}
	if len(streams) != 2 || streams[0] != "" || streams[1] != "2" {
		t.Errorf("streams opened with Last-Event-ID %q, want \"\" then \"2\"", streams)
	}
}

// TestJobsCommandLine: wrong calls of jobs are usage errors (exit 2) before anything
// is sent; -h works on each command.
func TestJobsCommandLine(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	defer srv.Close()
	const id = "abcdefghijklmnopqrstuvwxyz"
	for _, args := range [][]string{
		{"jobs"}, {"jobs", "nope"}, {"jobs", "--key", "k", "list"},
		{"jobs", "get"}, {"jobs", "get", id, id}, {"jobs", "get", "../../x"}, {"jobs", "cancel"},
		{"jobs", "list", "extra"}, {"jobs", "list", "--limit", "101"}, {"jobs", "list", "--limit", "-1"},
		{"jobs", "wait", id, "--timeout", "-1s"}, {"jobs", "wait", id, "--nope"},
	} {
		_, _, err := runCmd(t, append(args, "--key", "k", "--server", srv.URL)...)
		if exitCode(err) != 2 {
			t.Errorf("easel %s = %v, want a usage error (exit 2)", strings.Join(args, " "), err)
		}
	}
	if _, _, err := runCmd(t, "jobs", "list", "--server", srv.URL, "--key", ""); exitCode(err) != 2 || !strings.Contains(err.Error(), "API key") {
		t.Errorf("jobs list without a key = %v", err)
	}
	if _, _, err := runCmd(t, "jobs", "list", "--server", "ftp://x", "--key", "k"); exitCode(err) != 2 {
		t.Errorf("jobs list --server ftp://x = %v", err)
	}
	if calls != 0 {
		t.Errorf("wrong calls sent %d requests", calls)
	}
	for _, args := range [][]string{{"jobs", "-h"}, {"jobs", "help"}, {"help", "jobs"}, {"jobs", "list", "-h"}, {"jobs", "wait", "--help"}} {
		stdout, _, err := runCmd(t, args...)
		if exitCode(err) != 0 || !strings.Contains(stdout, "Usage") {
			t.Errorf("easel %s = %v, %q", strings.Join(args, " "), err, stdout)
		}
	}
}

// TestQueuePositionIsThePlaceInLine: queue_position is 1 + the jobs still queued
// ahead (1: next), in GET /v1/jobs/{id}, the 202 answer, and the last event of a
// queued job's stream; it moves up when a job ahead is canceled.
func TestQueuePositionIsThePlaceInLine(t *testing.T) {
	bedrockFake(t, bedrocktest.WithSmallImages(), bedrocktest.WithLatency(3*time.Second))
	s := startServerOn(t, t.TempDir(), "--model", "bedrock:core", "--workers", "1", "--user-concurrency", "0", "--thumbnails=false")
	api := &apiClient{t, s.url}
	submit := func(prompt string) map[string]any {
		r := api.do("POST", "/v1/images", s.key, map[string]any{"prompt": prompt}, "Prefer", "respond-async")
		if r.status != http.StatusAccepted {
			t.Fatalf("POST = %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	submit("runs")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) { // the worker takes the first job
		if r := api.do("GET", "/v1/jobs?status=running", s.key, nil); strings.Contains(string(r.body), `"running"`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := submit("second")
	time.Sleep(5 * time.Millisecond) // a later queued_at
	c := submit("third")
	if b["queue_position"] != 1.0 || c["queue_position"] != 2.0 {
		t.Errorf("202 queue_position = %v, %v; want 1 and 2", b["queue_position"], c["queue_position"])
	}
	position := func(id string) any { return api.do("GET", "/v1/jobs/"+id, s.key, nil).json(t)["queue_position"] }
	if got := position(c["id"].(string)); got != 2.0 {
		t.Errorf("GET third queue_position = %v, want 2", got)
	}
	// The stream's last event of the queued job carries the position.
	cl, _ := newClient(s.url, s.key, nil)
	var first map[string]any
	stop := errors.New("stop")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := cl.follow(ctx, c["id"].(string), 0, func(ev streamEvent) error {
		_ = json.Unmarshal(ev.data, &first)
		return stop
	})
	if !errors.Is(err, stop) || first["status"] != "queued" || first["queue_position"] != 2.0 {
		t.Errorf("first event of the queued job = %v (%v), want queued with queue_position 2", first, err)
	}
	// jobs wait shows the place as it changes.
	defer func(d time.Duration) { positionEvery = d }(positionEvery)
	positionEvery = 50 * time.Millisecond
	stderr := &syncBuffer{}
	waited := make(chan error, 1)
	go func() {
		waited <- run(context.Background(), []string{"jobs", "wait", c["id"].(string), "--key", s.key, "--server", s.url, "--out", t.TempDir()}, io.Discard, stderr)
	}()
	waitFor := func(text string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(stderr.String(), text) {
			if time.Now().After(deadline) {
				t.Fatalf("jobs wait printed %q, want %q", stderr.String(), text)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("queued, position 2")
	api.do("POST", "/v1/jobs/"+b["id"].(string)+"/cancel", s.key, nil)
	if got := position(c["id"].(string)); got != 1.0 {
		t.Errorf("queue_position after the job ahead was canceled = %v, want 1", got)
	}
	waitFor("queued, position 1")
	api.do("POST", "/v1/jobs/"+c["id"].(string)+"/cancel", s.key, nil)
	if err := <-waited; err == nil || !strings.Contains(err.Error(), "was canceled") {
		t.Errorf("jobs wait of the canceled job = %v", err)
	}
}

// TestGenerateSavesPrivateImages: with --private-images the URLs the job's events
// carry are signed, and generate saves the images through them.
func TestGenerateSavesPrivateImages(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--private-images", "--thumbnails=false")
	stdout, stderr, err := runCmd(t, "generate", "--key", s.key, "--server", s.url, "--size", "256x256", "--out", t.TempDir(), "a locked box")
	if err != nil || len(savedFiles(t, stdout)) != 1 {
		t.Fatalf("generate with private images = %v, %q %q", err, stdout, stderr)
	}
	if _, url, _ := strings.Cut(stdout, "\t"); !strings.Contains(url, "?") {
		t.Errorf("image URL %q, want a signed one", url)
	}
}
