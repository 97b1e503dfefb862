package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// easelClient speaks to a running Easel server: JSON calls with the API key, and job
// event streams that reconnect with Last-Event-ID when they drop.
type easelClient struct {
	server, key string
	hc          *http.Client
	// logf tells the person what the client does on its own (a reconnect).
	logf func(format string, args ...any)
	// idle is how long a stream may stay silent before it counts as dropped: the
	// server sends a comment every 15 s.
	idle time.Duration
}

func newClient(server, key string, logf func(string, ...any)) (*easelClient, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--server %q: want a URL like http://127.0.0.1:8080", server)}
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &easelClient{server: strings.TrimSuffix(server, "/"), key: key, hc: http.DefaultClient, logf: logf, idle: 45 * time.Second}, nil
}

// httpError is an error answer of the API.
type httpError struct {
	status      int
	code, param string
	msg         string
	err         error // the sentence for a person
}

func (e *httpError) Error() string { return e.err.Error() }

// call sends a request (body marshalled as JSON when not nil) and returns the answer's
// status, headers and body (at most 4 MiB). Answers of 400 and above are *httpError.
func (c *easelClient) call(ctx context.Context, method, path string, body any, hdr ...string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--server %q: %w", c.server, err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("could not reach %s: %w", c.server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode >= 400 {
		return resp, data, newHTTPError(resp, data)
	}
	return resp, data, nil
}

func newHTTPError(resp *http.Response, data []byte) *httpError {
	e := &httpError{status: resp.StatusCode, err: apiError(resp, data)}
	var body struct {
		Error struct{ Code, Param, Message string } `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.code, e.param, e.msg = body.Error.Code, body.Error.Param, body.Error.Message
	}
	return e
}

// clientJob is a job as the API shows it, the fields the commands use.
type clientJob struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`
	QueuePosition *int       `json:"queue_position"`
	Request       struct {
		Prompt string `json:"prompt"`
		Model  string `json:"model"`
		N      int    `json:"n"`
	} `json:"request"`
	Images   []clientImage `json:"images"`
	Filtered int           `json:"filtered"`
	Failed   int           `json:"failed"`
	Error    *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (j *clientJob) terminal() bool {
	return j.Status == "succeeded" || j.Status == "failed" || j.Status == "canceled"
}

// newIdempotencyKey makes a key for one generation, so a retried request makes no
// second job.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errNoQueue is the answer of a server that runs no job queue to Prefer: respond-async.
var errNoQueue = errors.New("the server runs no job queue")

// submit asks for a generation as a job (Prefer: respond-async). It returns the job
// (202), or the images of a server that ran it at once anyway (201: a server from
// before jobs ignores the header). A server without a queue is errNoQueue.
func (c *easelClient) submit(ctx context.Context, body map[string]any) (*clientJob, []clientImage, error) {
	resp, data, err := c.call(ctx, http.MethodPost, "/v1/images", body,
		"Prefer", "respond-async", "Idempotency-Key", newIdempotencyKey())
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusBadRequest &&
		(he.param == "Prefer" || strings.Contains(he.msg, "no job queue")) {
		return nil, nil, fmt.Errorf("%w: %w", errNoQueue, err)
	}
	if err != nil {
		return nil, nil, err
	}
	switch resp.StatusCode {
	case http.StatusAccepted:
		var j clientJob
		if err := json.Unmarshal(data, &j); err != nil || j.ID == "" {
			return nil, nil, fmt.Errorf("unexpected answer from the server: %s", snippet(data))
		}
		return &j, nil, nil
	case http.StatusCreated:
		imgs, err := decodeImages(data)
		return nil, imgs, err
	}
	return nil, nil, fmt.Errorf("unexpected answer from the server: %s", resp.Status)
}

// generateNow asks for a generation and waits for it in one request (no Prefer).
func (c *easelClient) generateNow(ctx context.Context, body map[string]any) ([]clientImage, error) {
	resp, data, err := c.call(ctx, http.MethodPost, "/v1/images", body, "Idempotency-Key", newIdempotencyKey())
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusAccepted { // it outlived the server's wait
		var j clientJob
		if json.Unmarshal(data, &j) == nil && j.ID != "" {
			return nil, fmt.Errorf("the job %s is still %s; see easel jobs wait %s", j.ID, j.Status, j.ID)
		}
	}
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("unexpected answer from the server: %s", resp.Status)
	}
	return decodeImages(data)
}

func decodeImages(data []byte) ([]clientImage, error) {
	var res struct {
		Images []clientImage `json:"images"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("unexpected answer from the server: %w", err)
	}
	return res.Images, nil
}

func (c *easelClient) job(ctx context.Context, method, path string) (*clientJob, error) {
	_, data, err := c.call(ctx, method, path, nil)
	if err != nil {
		return nil, err
	}
	var j clientJob
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("unexpected answer from the server: %w", err)
	}
	return &j, nil
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strconv.Quote(string(b))
}

// streamEvent is one event of a job's event stream.
type streamEvent struct {
	id   int
	typ  string
	data []byte
}

func terminalEvent(typ string) bool {
	return typ == "job.succeeded" || typ == "job.failed" || typ == "job.canceled"
}

// Reconnecting: after a stream drops, the client waits reconnectBase (doubling, at
// most reconnectMax) and tries again with Last-Event-ID; it gives up after
// maxReconnects tries in a row that brought no event.
const (
	reconnectBase = 500 * time.Millisecond
	reconnectMax  = 5 * time.Second
	maxReconnects = 8
)

// follow reads the job's events from the one after `after` (0: from the first) until
// its terminal event, calling on for each in order, once. When the stream drops it
// reconnects with Last-Event-ID. It returns ctx's error when ctx ends first, and an
// error of the API (404, 401) at once.
func (c *easelClient) follow(ctx context.Context, id string, after int, on func(streamEvent) error) error {
	last, tries := after, 0
	for {
		before := last
		ended, err := c.stream(ctx, id, &last, on)
		if ended {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var he *httpError
		if errors.As(err, &he) && he.status != http.StatusTooManyRequests && he.status < 500 {
			return err
		}
		var cbErr callbackError
		if errors.As(err, &cbErr) {
			return cbErr.error
		}
		if last > before {
			tries = 0
		}
		tries++
		if tries > maxReconnects {
			return fmt.Errorf("lost the event stream of job %s: %w", id, err)
		}
		wait := min(reconnectBase<<(tries-1), reconnectMax)
		why := "the stream ended"
		if err != nil {
			why = err.Error()
		}
		c.logf("Event stream of job %s dropped (%s); reconnecting after event %d in %s", id, why, last, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// callbackError is an error of follow's callback: it ends follow, unretried.
type callbackError struct{ error }

// stream reads one connection of the job's event stream; ended is true once the
// terminal event was handled.
func (c *easelClient) stream(ctx context.Context, id string, last *int, on func(streamEvent) error) (ended bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, c.server+"/v1/jobs/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "text/event-stream")
	if *last > 0 {
		req.Header.Set("Last-Event-ID", strconv.Itoa(*last))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return false, newHTTPError(resp, data)
	}
	// A silent stream (no event, no keep-alive comment) is a dropped one.
	watchdog := time.AfterFunc(c.idle, cancel)
	defer watchdog.Stop()
	rd := bufio.NewReaderSize(resp.Body, 64<<10)
	var ev streamEvent
	var data bytes.Buffer
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			if sctx.Err() != nil && ctx.Err() == nil {
				return false, fmt.Errorf("no event or keep-alive for %s", c.idle)
			}
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
		watchdog.Reset(c.idle)
		line = strings.TrimRight(line, "\r\n")
		if line == "" { // dispatch
			if ev.typ != "" {
				ev.data = bytes.Clone(data.Bytes())
				if ev.id > 0 && ev.id <= *last {
					// Already handled (a server replaying more than asked).
				} else {
					if err := on(ev); err != nil {
						return false, callbackError{err}
					}
					if ev.id > 0 {
						*last = ev.id
					}
					if terminalEvent(ev.typ) {
						return true, nil
					}
				}
			}
			ev, data = streamEvent{}, bytes.Buffer{}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment: the keep-alive
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.id, _ = strconv.Atoi(value)
		case "event":
			ev.typ = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
}
