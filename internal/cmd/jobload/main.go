// Command jobload drives Easel's job API for end-to-end checks and measurements:
//
//	jobload submit -url URL -keys K1,K2 -jobs N [-rate R] [-body JSON] > ids
//	jobload wait -url URL -keys K1,K2 -ids FILE [-timeout D] [-n IMAGES]
//
// submit sends N requests with Prefer: respond-async, round robin over the keys (at
// R per second, or as fast as 16 clients go), prints "<job id> <key index>" per job and,
// on stderr, the latency of the POSTs (p50, p99, max). wait waits until every job has
// ended, then checks each: succeeded, with its images, and every image's object (fetched
// from its URL) has the recorded SHA-256. It prints a JSON summary and exits 1 if any
// check failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: jobload submit|wait [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "submit":
		err = submit(os.Args[2:])
	case "wait":
		err = wait(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobload:", err)
		os.Exit(1)
	}
}

type common struct {
	base *url.URL
	keys []string
}

func (c *common) bind(fs *flag.FlagSet) (*string, *string) {
	return fs.String("url", "http://127.0.0.1:8080", "Easel's address"), fs.String("keys", "", "API keys, comma-separated")
}

func (c *common) parse(u, keys string) error {
	var err error
	if c.base, err = url.Parse(u); err != nil {
		return err
	}
	c.keys = strings.Split(keys, ",")
	if keys == "" {
		return errors.New("-keys is required")
	}
	return nil
}

var client = &http.Client{Timeout: 2 * time.Minute}

func (c *common) do(method, path, key string, body []byte, hdr map[string]string) (*http.Response, []byte, error) {
	u := c.base.JoinPath(path)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u = c.base.JoinPath(path[:i])
		u.RawQuery = path[i+1:]
	}
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func submit(args []string) error {
	fs := flag.NewFlagSet("submit", flag.ExitOnError)
	var c common
	u, k := c.bind(fs)
	jobs := fs.Int("jobs", 100, "jobs to submit")
	rate := fs.Float64("rate", 0, "jobs per second (0: as fast as 16 clients go)")
	body := fs.String("body", `{"prompt":"a lighthouse at dusk"}`, "request body (the prompt gets the job's number appended)")
	_ = fs.Parse(args)
	if err := c.parse(*u, *k); err != nil {
		return err
	}
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(*body), &tmpl); err != nil {
		return fmt.Errorf("-body: %w", err)
	}
	type result struct {
		id  string
		key int
		lat time.Duration
		err error
	}
	results := make([]result, *jobs)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				m := map[string]any{}
				for k, v := range tmpl {
					m[k] = v
				}
				m["prompt"] = fmt.Sprintf("%v %d", tmpl["prompt"], i)
				b, _ := json.Marshal(m)
				key := i % len(c.keys)
				start := time.Now()
				resp, out, err := c.do("POST", "v1/images", c.keys[key], b, map[string]string{"Prefer": "respond-async"})
				r := result{key: key, lat: time.Since(start), err: err}
				if err == nil && resp.StatusCode != http.StatusAccepted {
					r.err = fmt.Errorf("POST %d: %s", resp.StatusCode, out)
				}
				if r.err == nil {
					var j struct{ ID string }
					r.err = json.Unmarshal(out, &j)
					r.id = j.ID
				}
				results[i] = r
			}
		})
	}
	start := time.Now()
	for i := range *jobs {
		if *rate > 0 {
			next := start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))
			time.Sleep(time.Until(next))
		}
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	var lats []time.Duration
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	var errs []error
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		lats = append(lats, r.lat)
		fmt.Fprintf(w, "%s %d\n", r.id, r.key)
	}
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(float64(len(lats))*p))]
	}
	fmt.Fprintf(os.Stderr, "submitted %d jobs in %s (%.0f/s): POST latency p50 %s, p99 %s, max %s\n",
		len(lats), elapsed.Round(time.Millisecond), float64(len(lats))/elapsed.Seconds(),
		pct(0.5).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d submissions failed; first: %w", len(errs), *jobs, errs[0])
	}
	return nil
}

type jobJSON struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Request struct {
		N int `json:"n"`
	} `json:"request"`
	Images []struct {
		ID     string `json:"id"`
		URL    string `json:"url"`
		SHA256 string `json:"sha256"`
		Bytes  int64  `json:"bytes"`
	} `json:"images"`
	Error *struct{ Code, Message string } `json:"error"`
}

func wait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	var c common
	u, k := c.bind(fs)
	idsFile := fs.String("ids", "", "file of submit's output")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for every job to end")
	_ = fs.Parse(args)
	if err := c.parse(*u, *k); err != nil {
		return err
	}
	raw, err := os.ReadFile(*idsFile)
	if err != nil {
		return err
	}
	type entry struct {
		id  string
		key int
	}
	var entries []entry
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		id, ks, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(ks)
		if !ok || err != nil || n >= len(c.keys) {
			return fmt.Errorf("%s: bad line %q", *idsFile, line)
		}
		entries = append(entries, entry{id, n})
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	type outcome struct {
		job     jobJSON
		err     error
		badObjs int
	}
	outs := make([]outcome, len(entries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	start := time.Now()
	for i, e := range entries {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for {
				left := time.Until(start.Add(*timeout))
				secs := max(1, min(30, int(left.Seconds())))
				resp, b, err := c.do("GET", "v1/jobs/"+e.id, c.keys[e.key], nil, map[string]string{"Prefer": "wait=" + strconv.Itoa(secs)})
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET job %s: %d %s", e.id, resp.StatusCode, b)
				}
				if err == nil {
					err = json.Unmarshal(b, &outs[i].job)
				}
				if err != nil {
					outs[i].err = err
					return
				}
				switch outs[i].job.Status {
				case "succeeded", "failed", "canceled":
					outs[i].badObjs = c.checkObjects(&outs[i].job)
					return
				}
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	sum := map[string]int{"jobs": len(entries)}
	var problems []string
	for _, o := range outs {
		switch {
		case o.err != nil:
			sum["errors"]++
			problems = append(problems, o.err.Error())
		default:
			sum[o.job.Status]++
			sum["images"] += len(o.job.Images)
			sum["bad_objects"] += o.badObjs
			if o.job.Status != "succeeded" {
				msg := o.job.ID + " " + o.job.Status
				if o.job.Error != nil {
					msg += ": " + o.job.Error.Code + " " + o.job.Error.Message
				}
				problems = append(problems, msg)
			} else if len(o.job.Images) != o.job.Request.N {
				sum["missing_images"] += o.job.Request.N - len(o.job.Images)
				problems = append(problems, fmt.Sprintf("%s has %d of %d images", o.job.ID, len(o.job.Images), o.job.Request.N))
			}
		}
	}
	sum["seconds"] = int(time.Since(start).Seconds())
	out, _ := json.Marshal(sum)
	fmt.Println(string(out))
	if len(problems) > 0 || sum["bad_objects"] > 0 {
		for _, p := range problems[:min(len(problems), 10)] {
			fmt.Fprintln(os.Stderr, "  ", p)
		}
		return fmt.Errorf("%d jobs not succeeded as asked, %d objects missing or different", len(problems), sum["bad_objects"])
	}
	return nil
}

// checkObjects fetches each image of the job and counts those missing or whose bytes
// do not have the recorded SHA-256.
func (c *common) checkObjects(j *jobJSON) int {
	bad := 0
	for _, img := range j.Images {
		u, err := c.base.Parse(img.URL)
		if err != nil {
			bad++
			continue
		}
		resp, err := client.Get(u.String())
		if err != nil {
			bad++
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n != img.Bytes || hex.EncodeToString(h.Sum(nil)) != img.SHA256 {
			bad++
		}
	}
	return bad
}
