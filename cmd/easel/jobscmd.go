package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/easelhq/easel"
)

const jobsUsage = `Usage: easel jobs COMMAND [flags]

Works with the jobs of a running Easel server (every generation is one): the caller's
own, by the API key given.

Commands:
  list         list your jobs, newest first (--status queued,running for those not ended)
  get ID       print a job as JSON
  cancel ID    cancel a job: a queued one never runs, a running one stops and keeps
               the images already made
  wait ID      follow a job's events until it ends and save its images, as generate does

Run "easel jobs COMMAND -h" for a command's flags.
`

// clientFlags are the settings every client command has.
type clientFlags struct {
	server, key string
}

func (c *clientFlags) bind(f *envFlags) {
	f.String(&c.server, "server", "EASEL_SERVER", "http://127.0.0.1:8080", "Easel server URL")
	f.String(&c.key, "key", "EASEL_KEY", "", "API key (required)")
}

func (c *clientFlags) client(cmd string, stderr io.Writer) (*easelClient, error) {
	if c.key == "" {
		return nil, usageError{fmt.Errorf("%s: an API key is required (--key or $EASEL_KEY)", cmd)}
	}
	return newClient(c.server, c.key, func(format string, args ...any) {
		fmt.Fprintf(stderr, format+"\n", args...)
	})
}

// jobsFlags are the settings of one jobs command.
type jobsFlags struct {
	clientFlags
	status, cursor string
	limit          int
	out            string
	timeout        time.Duration
}

func (j *jobsFlags) bind(f *envFlags, sub string) {
	j.clientFlags.bind(f)
	switch sub {
	case "list":
		f.String(&j.status, "status", "EASEL_JOBS_STATUS", "", "comma-separated statuses to list: queued, running, succeeded, failed, canceled (default: every status)")
		f.Int(&j.limit, "limit", "EASEL_JOBS_LIMIT", 20, "how many jobs to list, 1..100 (0: the server's default)")
		f.String(&j.cursor, "cursor", "EASEL_JOBS_CURSOR", "", "list from this cursor on (printed on stderr after a full page)")
	case "wait":
		f.String(&j.out, "out", "EASEL_CLIENT_OUT", ".", "folder to save the images in")
		f.Duration(&j.timeout, "timeout", "EASEL_CLIENT_TIMEOUT", 6*time.Minute, "how long to follow the job (0: no limit); the job goes on after it")
	}
}

// jobs is the client for a server's jobs: list, get, cancel, wait.
func jobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, jobsUsage)
		return usageError{errors.New("jobs: give a command: list, get, cancel or wait")}
	}
	sub, rest := args[0], args[1:]
	var about, argsUsage string
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, jobsUsage)
		return flag.ErrHelp
	case "list":
		about = "Lists your jobs, newest first: id, status, when made, images, prompt. A full page\nends with the command for the next one, on stderr."
	case "get":
		about = "Prints the job as the API shows it (JSON), with its place in the queue while queued."
		argsUsage = "ID"
	case "cancel":
		about = "Cancels a job. A queued job ends at once and never reaches the model; a running one\nstops waiting for the model and keeps the images already made. Cancelling a job\nthat has ended is an error (exit 1)."
		argsUsage = "ID"
	case "wait":
		about = "Follows a job's events until it ends (reconnecting when the stream drops), saves its\nimages in --out as they are made and prints, per image, its path, URL and seed, as\neasel generate does. Exit status 1 when the job failed or was canceled."
		argsUsage = "ID"
	default:
		fmt.Fprint(stderr, jobsUsage)
		return usageError{fmt.Errorf("jobs: unknown command %q (want list, get, cancel or wait)", sub)}
	}
	var j jobsFlags
	f := newFlags("jobs "+sub, argsUsage, about, stdout)
	j.bind(f, sub)
	if err := f.parse(rest); err != nil {
		return err
	}
	var id string
	if argsUsage == "ID" {
		if f.NArg() != 1 {
			return usageError{fmt.Errorf("jobs %s: give one job id (see easel jobs list)", sub)}
		}
		id = f.Args()[0]
		if !easel.ValidID(id) {
			return usageError{fmt.Errorf("jobs %s: %q is not a job id", sub, id)}
		}
	} else if err := f.noArgs(); err != nil {
		return err
	}
	if sub == "list" && (j.limit < 0 || j.limit > easel.MaxPageSize) {
		return usageError{fmt.Errorf("jobs list: --limit %d: want 1..%d, or 0 for the server's default", j.limit, easel.MaxPageSize)}
	}
	if sub == "wait" && j.timeout < 0 {
		return usageError{fmt.Errorf("jobs wait: --timeout %s is negative", j.timeout)}
	}
	c, err := j.client("jobs "+sub, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		return listJobs(ctx, c, &j, stdout, stderr)
	case "get":
		_, data, err := c.call(ctx, http.MethodGet, "/v1/jobs/"+id, nil)
		if err != nil {
			return err
		}
		return printIndented(stdout, data)
	case "cancel":
		job, err := c.job(ctx, http.MethodPost, "/v1/jobs/"+id+"/cancel")
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusConflict {
			if cur, err := c.job(ctx, http.MethodGet, "/v1/jobs/"+id); err == nil {
				return fmt.Errorf("job %s has already ended (%s); nothing to cancel", id, cur.Status)
			}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Job %s is %s\n", job.ID, job.Status)
		return nil
	}
	// wait
	if j.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.timeout)
		defer cancel()
	}
	s, err := newSaver(c, j.out, stdout)
	if err != nil {
		return err
	}
	defer s.close()
	return followJob(ctx, c, id, s, stderr, "")
}

func printIndented(w io.Writer, data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("unexpected answer from the server: %w", err)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	_, err := fmt.Fprintf(w, "%s\n", b)
	return err
}

func listJobs(ctx context.Context, c *easelClient, j *jobsFlags, stdout, stderr io.Writer) error {
	q := url.Values{}
	if j.status != "" {
		q.Set("status", j.status)
	}
	if j.limit > 0 {
		q.Set("limit", strconv.Itoa(j.limit))
	}
	if j.cursor != "" {
		q.Set("cursor", j.cursor)
	}
	path := "/v1/jobs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	_, data, err := c.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	var page struct {
		Jobs []clientJob `json:"jobs"`
		Next *string     `json:"next_cursor"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return fmt.Errorf("unexpected answer from the server: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tIMAGES\tPROMPT")
	for _, job := range page.Jobs {
		prompt := strings.Join(strings.Fields(job.Request.Prompt), " ")
		if r := []rune(prompt); len(r) > 60 {
			prompt = string(r[:59]) + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", job.ID, job.Status, job.CreatedAt.Local().Format("2006-01-02 15:04:05"), len(job.Images), prompt)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Next != nil && *page.Next != "" {
		fmt.Fprintf(stderr, "More: easel jobs list --cursor %s", *page.Next)
		if j.status != "" {
			fmt.Fprintf(stderr, " --status %s", j.status)
		}
		fmt.Fprintln(stderr)
	}
	return nil
}

// saver saves a job's images in --out, each once, and prints a line per image.
type saver struct {
	c     *easelClient
	dir   string
	root  *os.Root
	saved map[string]bool
	out   io.Writer
}

func newSaver(c *easelClient, dir string, stdout io.Writer) (*saver, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Files are named from the ids the server sent, so the names are checked and the
	// files made through an os.Root: whatever a server answers, nothing is written
	// outside --out.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &saver{c: c, dir: dir, root: root, saved: map[string]bool{}, out: stdout}, nil
}

func (s *saver) close() { s.root.Close() }

func (s *saver) save(ctx context.Context, img clientImage) error {
	if s.saved[img.ID] {
		return nil
	}
	if !easel.ValidID(img.ID) {
		return fmt.Errorf("the server answered an image id %q that is not an Easel id; nothing saved for it", img.ID)
	}
	name := img.ID + extensionOf(img.ContentType)
	if err := download(ctx, s.c.server, img.URL, s.root, name); err != nil {
		return err
	}
	s.saved[img.ID] = true
	fmt.Fprintf(s.out, "%s\t%s\tseed %d\n", filepath.Join(s.dir, name), img.URL, img.Seed)
	return nil
}

// followJob follows the job's events to its end: status lines on stderr, images saved
// as they are ready. It returns nil when the job succeeded. When ctx ends first (Ctrl-C,
// --timeout) the job goes on, and the error says how to pick it up again. shown is
// the status line already printed, so it is not printed twice.
func followJob(ctx context.Context, c *easelClient, id string, s *saver, stderr io.Writer, shown string) error {
	start := time.Now()
	var final *clientJob
	var mu sync.Mutex // shown, status
	status := ""
	say := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if line != shown {
			fmt.Fprintln(stderr, line)
			shown = line
		}
	}
	// No event comes while a job moves up the queue: its place is read every
	// positionEvery while it is queued.
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		t := time.NewTicker(positionEvery)
		defer t.Stop()
		for {
			select {
			case <-pollCtx.Done():
				return
			case <-t.C:
			}
			mu.Lock()
			queued := status == "queued"
			mu.Unlock()
			if !queued {
				continue
			}
			if j, err := c.job(pollCtx, http.MethodGet, "/v1/jobs/"+id); err == nil && j.Status == "queued" && pollCtx.Err() == nil {
				say(statusLine(j))
			}
		}
	}()
	defer func() { stopPoll(); <-polled }()
	err := c.follow(ctx, id, 0, func(ev streamEvent) error {
		if ev.typ == "image.ready" {
			var img clientImage
			if err := json.Unmarshal(ev.data, &img); err != nil {
				return fmt.Errorf("unexpected image.ready event: %w", err)
			}
			if img.URL == "" { // deleted since
				return nil
			}
			return s.save(ctx, img)
		}
		var job clientJob
		if err := json.Unmarshal(ev.data, &job); err != nil {
			return fmt.Errorf("unexpected %s event: %w", ev.typ, err)
		}
		mu.Lock()
		status = job.Status
		mu.Unlock()
		say(statusLine(&job))
		if terminalEvent(ev.typ) {
			final = &job
		}
		return nil
	})
	stopPoll()
	<-polled
	if err != nil {
		if ctx.Err() != nil {
			why := "stopped following"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = "gave up waiting (--timeout)"
			}
			return fmt.Errorf("%s job %s after %.1fs; it goes on on the server. Follow it again with: easel jobs wait %s", why, id, time.Since(start).Seconds(), id)
		}
		return err
	}
	// Images the stream did not announce (none, normally) are on the job.
	for _, img := range final.Images {
		if err := s.save(ctx, img); err != nil {
			return err
		}
	}
	switch final.Status {
	case "failed":
		msg, code := "", ""
		if final.Error != nil {
			msg, code = final.Error.Message, final.Error.Code
		}
		return fmt.Errorf("job %s failed: %s [%s]", id, msg, code)
	case "canceled":
		return fmt.Errorf("job %s was canceled (%d images kept)", id, len(s.saved))
	}
	if final.Filtered > 0 {
		fmt.Fprintf(stderr, "The model's content filter removed %d images.\n", final.Filtered)
	}
	return nil
}

// positionEvery is how often a queued job's place in the queue is read while it is
// followed.
var positionEvery = 5 * time.Second

// statusLine is what a person sees of a job's state.
func statusLine(j *clientJob) string {
	switch j.Status {
	case "queued":
		if j.QueuePosition != nil {
			return fmt.Sprintf("Job %s queued, position %d", j.ID, *j.QueuePosition)
		}
		return fmt.Sprintf("Job %s queued", j.ID)
	case "succeeded":
		if len(j.Images) == 1 {
			return fmt.Sprintf("Job %s succeeded: 1 image", j.ID)
		}
		return fmt.Sprintf("Job %s succeeded: %d images", j.ID, len(j.Images))
	}
	return fmt.Sprintf("Job %s %s", j.ID, j.Status)
}

// generateJob runs generate's request as a job: submitted with Prefer:
// respond-async, then followed (or, with async, its id printed). A server without a
// queue gets the request in one piece, as before jobs.
func generateJob(ctx context.Context, c *easelClient, body map[string]any, async bool, out string, stdout, stderr io.Writer) error {
	job, imgs, err := c.submit(ctx, body)
	if errors.Is(err, errNoQueue) {
		if async {
			return fmt.Errorf("--async needs a server with a job queue, and %s runs none (easel serve --queue none); run without --async", c.server)
		}
		fmt.Fprintf(stderr, "The server runs no job queue: waiting for the images in one request (no progress; Ctrl-C gives them up).\n")
		stop := progress(stderr, "Generating")
		imgs, err = c.generateNow(ctx, body)
		stop()
	}
	if err != nil {
		return err
	}
	if job != nil && async {
		fmt.Fprintln(stdout, job.ID)
		return nil
	}
	if job == nil && async {
		fmt.Fprintf(stderr, "The server made the images at once (it predates jobs); saving them.\n")
	}
	s, err := newSaver(c, out, stdout)
	if err != nil {
		return err
	}
	defer s.close()
	if job == nil {
		for _, img := range imgs {
			if err := s.save(ctx, img); err != nil {
				return err
			}
		}
		return nil
	}
	line := statusLine(job)
	fmt.Fprintln(stderr, line)
	return followJob(ctx, c, job.ID, s, stderr, line)
}
