package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// trickle opens a connection that sends a generation request's headers and then its
// body one byte at a time, and returns the status the server answers (0 if none came
// before the connection was closed).
func trickle(t *testing.T, base, key string, stop <-chan struct{}) <-chan int {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/images HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{", u.Host, key)
	status := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	go func() {
		defer conn.Close()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	return status
}

// One user trickling request bodies on many connections holds at most their own
// concurrency, never the instance's generation slots: another user is still served.
// (Before, the slot was taken before the body was read and the user's limits after
// it, so 8 slow uploads took all 4 slots and everyone else got 503.)
func TestTricklingUserDoesNotTakeEverySlot(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--user-rate=0", "--user-concurrency=2", "--max-inflight=4")
	c := &apiClient{t: t, base: s.url}
	alice := createKey(t, s.data, "alice")
	stop := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(stop) }) })
	var statuses []<-chan int
	for range 8 {
		statuses = append(statuses, trickle(t, s.url, alice, stop))
	}
	time.Sleep(300 * time.Millisecond) // the server has read every request's headers
	if r := c.do("POST", "/v1/images", s.key, small("another user's request")); r.status != 201 {
		t.Errorf("another user's request while one user trickles = %d %s, want 201", r.status, r.body)
	}
	// Alice's connections beyond her concurrency were refused at once, before any body.
	refused := 0
	for _, st := range statuses {
		select {
		case code := <-st:
			if code == http.StatusTooManyRequests {
				refused++
			}
		case <-time.After(2 * time.Second):
		}
	}
	if refused != 6 {
		t.Errorf("%d of alice's 8 trickling requests refused with 429, want 6 (her concurrency is 2)", refused)
	}
	once.Do(func() { close(stop) })
}

// An idempotent replay is answered even when the caller is out of rate: it costs no
// model call. And it shows the images as they are now (the thumbnail made since).
func TestReplayBeforeRateLimitWithFreshThumbnail(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--user-rate=1", "--user-burst=1", "--thumbnails=true")
	c := &apiClient{t: t, base: s.url}
	first := c.generate(s.key, small("replayed otters"), "Idempotency-Key", "replay-1")
	id := first[0]["id"].(string)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if u, _ := c.do("GET", "/v1/images/"+id, s.key, nil).json(t)["thumbnail_url"].(string); u != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no thumbnail after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := c.do("POST", "/v1/images", s.key, small("a new request")); r.status != 429 {
		t.Fatalf("a new request with the bucket empty = %d, want 429", r.status)
	}
	r := c.do("POST", "/v1/images", s.key, small("replayed otters"), "Idempotency-Key", "replay-1")
	if r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay with the bucket empty = %d (Idempotent-Replayed %q) %s, want 201 replayed", r.status, r.header.Get("Idempotent-Replayed"), r.body)
	}
	imgs := r.json(t)["images"].([]any)
	img := imgs[0].(map[string]any)
	if img["id"] != id {
		t.Errorf("replayed image %v, want %s", img["id"], id)
	}
	if u, _ := img["thumbnail_url"].(string); !strings.Contains(u, id) {
		t.Errorf("replayed thumbnail_url = %v, want the thumbnail made since the first answer", img["thumbnail_url"])
	}
}
