package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

const generateAbout = `Asks a running Easel server for images as a job and follows it: prints on stderr when
it is queued (and its place in the queue) and running, saves each image in --out as
it is made and prints, per image, its path, URL and seed. Ctrl-C (or --timeout) stops
following and leaves the job running: easel jobs wait ID picks it up again. --async
prints the job id and exits. A server without a job queue is asked in one request.
Words of the prompt may be quoted or not; flags may come before or after it, and "--"
ends them (for a prompt that starts with "-").`

// generateFlags are the client's settings.
type generateFlags struct {
	clientFlags
	model, size, out, negative, aspect string
	n                                  int
	seed                               int64
	timeout                            time.Duration
	async                              bool
}

func (g *generateFlags) bind(f *envFlags) {
	g.clientFlags.bind(f)
	f.String(&g.model, "model", "EASEL_CLIENT_MODEL", "", "model id (default: the server's default)")
	f.String(&g.size, "size", "EASEL_CLIENT_SIZE", "", "image size WIDTHxHEIGHT, e.g. 1024x768")
	f.String(&g.aspect, "aspect", "EASEL_CLIENT_ASPECT", "", "aspect ratio instead of a size, e.g. 16:9 (models with sizes make the nearest one)")
	f.String(&g.negative, "negative", "EASEL_CLIENT_NEGATIVE", "", "negative prompt")
	f.Int(&g.n, "n", "EASEL_CLIENT_N", 0, "number of images (0: the server's default, one)")
	f.Int64(&g.seed, "seed", "EASEL_CLIENT_SEED", -1, "seed (-1: random)")
	f.String(&g.out, "out", "EASEL_CLIENT_OUT", ".", "folder to save the images in")
	f.Duration(&g.timeout, "timeout", "EASEL_CLIENT_TIMEOUT", 6*time.Minute, "how long to follow the job (0: no limit); the job goes on after it")
	f.Bool(&g.async, "async", "EASEL_CLIENT_ASYNC", false, "submit the job, print its id on stdout and exit (follow it later with easel jobs wait ID)")
}

// generate is the command-line client: it asks a running server for images, shows
// the elapsed time while it waits, saves the files and prints their paths and URLs.
func generate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var g generateFlags
	f := newFlags("generate", "PROMPT", generateAbout, stdout)
	g.bind(f)
	if err := f.parse(args); err != nil {
		return err
	}
	server, key, model, size, out, negative, aspect := g.server, g.key, g.model, g.size, g.out, g.negative, g.aspect
	n, seed, timeout := g.n, g.seed, g.timeout
	switch {
	case n < 0:
		return usageError{fmt.Errorf("generate: -n %d is negative", n)}
	case seed < -1:
		return usageError{fmt.Errorf("generate: --seed %d: want 0 or more, or -1 for a random seed", seed)}
	case timeout < 0:
		return usageError{fmt.Errorf("generate: --timeout %s is negative", timeout)}
	}
	prompt := strings.Join(f.Args(), " ")
	if strings.TrimSpace(prompt) == "" {
		return usageError{errors.New(`generate: give a prompt, e.g. easel generate "a lighthouse at dusk"`)}
	}
	if key == "" {
		return usageError{errors.New("generate: an API key is required (--key or $EASEL_KEY)")}
	}
	body := map[string]any{"prompt": prompt}
	if model != "" {
		body["model"] = model
	}
	if negative != "" {
		body["negative_prompt"] = negative
	}
	if aspect != "" {
		body["aspect_ratio"] = aspect
	}
	if n > 0 {
		body["n"] = n
	}
	if seed >= 0 {
		body["seed"] = seed
	}
	if size != "" {
		w, h, ok := strings.Cut(size, "x")
		wi, err1 := strconv.Atoi(w)
		hi, err2 := strconv.Atoi(h)
		if !ok || err1 != nil || err2 != nil {
			return usageError{fmt.Errorf("generate: --size %q: want WIDTHxHEIGHT", size)}
		}
		body["width"], body["height"] = wi, hi
	}
	c, err := newClient(server, key, func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) })
	if err != nil {
		return usageError{fmt.Errorf("generate: %w", err)}
	}
	cancel := func() {}
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	return generateJob(ctx, c, body, g.async, out, stdout, stderr)
}

type clientImage struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Seed        uint64 `json:"seed"`
	ContentType string `json:"content_type"`
}

// apiError turns an error answer into a sentence for a person.
func apiError(resp *http.Response, data []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Param   string `json:"param"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
		return fmt.Errorf("the server answered %s", resp.Status)
	}
	msg := e.Error.Message
	if e.Error.Param != "" {
		msg += " (field: " + e.Error.Param + ")"
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		msg += " Retry after " + ra + " s."
	}
	return fmt.Errorf("%s [%s, HTTP %d]", msg, e.Error.Code, resp.StatusCode)
}

func download(ctx context.Context, server, raw string, root *os.Root, name string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if !u.IsAbs() {
		base, _ := url.Parse(server)
		u = base.ResolveReference(u)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", u, resp.Status)
	}
	fh, err := root.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(fh, resp.Body); err != nil {
		fh.Close()
		return fmt.Errorf("download %s: %w", u, err)
	}
	return fh.Close()
}

func extensionOf(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	}
	return ".png"
}

// progress shows "<what>... 3.2s" on a terminal until the returned func is called.
// Off a terminal it prints nothing.
func progress(w io.Writer, what string) func() {
	fh, ok := w.(*os.File)
	if !ok {
		return func() {}
	}
	if st, err := fh.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(fh, "\r%s... done in %.1fs\n", what, time.Since(start).Seconds())
				return
			case <-t.C:
				fmt.Fprintf(fh, "\r%s... %.1fs", what, time.Since(start).Seconds())
			}
		}
	}()
	return func() { close(done); <-finished }
}
