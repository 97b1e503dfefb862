// Command load is Easel's closed-loop load generator: N clients each POST
// /v1/images, wait for the answer and send the next request, for a fixed time and at
// most a fixed number of requests. It reports generations per second, latency
// percentiles and errors by status, and, given the server's PID, the server's CPU time
// per image and its peak resident memory (VmHWM) from /proc. It only talks to loopback
// addresses.
//
//	load -url http://127.0.0.1:8080 -key easel_... -c 16 -d 20s -pid 1234 -json out.jsonl
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type config struct {
	url, key, model, label, jsonOut string
	clients, images, maxRequests    int
	pid                             int
	peers                           map[string]int // other processes whose CPU time to report
	duration, warmup, timeout       time.Duration
}

func parse(args []string) (*config, error) {
	c := &config{}
	f := flag.NewFlagSet("load", flag.ContinueOnError)
	f.StringVar(&c.url, "url", "http://127.0.0.1:8080", "Easel's base URL (loopback only)")
	f.StringVar(&c.key, "key", os.Getenv("EASEL_KEY"), "API key ($EASEL_KEY)")
	f.StringVar(&c.model, "model", "", "model to ask for (default: the server's)")
	f.StringVar(&c.label, "label", "load", "name of this run in the report")
	f.StringVar(&c.jsonOut, "json", "", "append the summary as one JSON line to this file")
	f.IntVar(&c.clients, "c", 16, "concurrent clients")
	f.IntVar(&c.images, "n", 1, "images per request")
	f.IntVar(&c.maxRequests, "max-requests", 20000, "stop after this many requests in all (warm-up included)")
	f.IntVar(&c.pid, "pid", 0, "server PID: sample its CPU time and memory from /proc")
	c.peers = map[string]int{}
	f.Func("peer", "NAME=PID of another process whose CPU time per image to report (repeatable: the model fake, the emulators)", func(v string) error {
		name, pid, ok := strings.Cut(v, "=")
		n, err := strconv.Atoi(pid)
		if !ok || name == "" || err != nil || n <= 0 {
			return fmt.Errorf("want NAME=PID, not %q", v)
		}
		c.peers[name] = n
		return nil
	})
	f.DurationVar(&c.duration, "d", 20*time.Second, "measured duration")
	f.DurationVar(&c.warmup, "warmup", 3*time.Second, "unmeasured warm-up before it")
	f.DurationVar(&c.timeout, "timeout", 60*time.Second, "time limit of one request")
	if err := f.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case c.key == "":
		return nil, errors.New("no API key: pass -key or set EASEL_KEY")
	case c.clients < 1 || c.clients > 1024:
		return nil, fmt.Errorf("-c %d: want 1 to 1024", c.clients)
	case c.duration <= 0 || c.duration > 10*time.Minute:
		return nil, fmt.Errorf("-d %v: want up to 10m", c.duration)
	case c.maxRequests < 1:
		return nil, fmt.Errorf("-max-requests %d: want at least 1", c.maxRequests)
	}
	return c, checkLoopback(c.url)
}

// checkLoopback refuses any target but this machine: load is for loopback only.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want http://127.0.0.1:PORT", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-url %q: only loopback addresses (127.0.0.0/8, ::1, localhost) may be loaded", raw)
}

// result is one finished request.
type result struct {
	start, end time.Time
	status     int // 0: no answer (transport error)
	images     int
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout: c.timeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: c.clients, MaxConnsPerHost: c.clients,
			DisableCompression: true, IdleConnTimeout: 90 * time.Second,
		},
	}
	defer client.CloseIdleConnections()
	endpoint := strings.TrimSuffix(c.url, "/") + "/v1/images"

	t0 := time.Now()
	from, until := t0.Add(c.warmup), t0.Add(c.warmup+c.duration)
	ctx, cancel := context.WithDeadline(ctx, until.Add(c.timeout))
	defer cancel()
	budget := make(chan struct{}, c.maxRequests)
	for range c.maxRequests {
		budget <- struct{}{}
	}
	close(budget)

	var mon *monitor
	if c.pid > 0 {
		if mon, err = startMonitor(c.pid, c.peers, from, until); err != nil {
			return err
		}
	}
	results := make(chan []result, c.clients)
	for w := range c.clients {
		go func() {
			var mine []result
			for i := 0; time.Now().Before(until) && ctx.Err() == nil; i++ {
				if _, ok := <-budget; !ok {
					break
				}
				mine = append(mine, c.post(ctx, client, endpoint, w, i))
			}
			results <- mine
		}()
	}
	var all []result
	for range c.clients {
		all = append(all, <-results...)
	}
	var srv *serverStats
	if mon != nil {
		srv = mon.stop()
	}
	s := summarize(c, all, from, until, srv)
	s.print(stdout)
	if c.jsonOut != "" {
		return s.appendJSON(c.jsonOut)
	}
	return nil
}

// post sends one generation request and reads the whole answer.
func (c *config) post(ctx context.Context, client *http.Client, endpoint string, w, i int) result {
	body := map[string]any{
		"prompt": fmt.Sprintf("%s client %d request %d: a lighthouse on a cliff at dusk, oil on canvas", c.label, w, i),
	}
	if c.images > 1 {
		body["n"] = c.images
	}
	if c.model != "" {
		body["model"] = c.model
	}
	b, _ := json.Marshal(body)
	r := result{start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(string(b)))
	if err != nil {
		r.end = time.Now()
		return r
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		r.end = time.Now()
		return r
	}
	defer res.Body.Close()
	var answer struct {
		Images []json.RawMessage `json:"images"`
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	r.end = time.Now()
	if err != nil {
		return r
	}
	r.status = res.StatusCode
	if res.StatusCode == http.StatusCreated && json.Unmarshal(data, &answer) == nil {
		r.images = len(answer.Images)
	}
	return r
}
