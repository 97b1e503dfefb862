package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer boots the real `easel serve` wiring on 127.0.0.1:0 with a temp --data
// dir and extra flags, registers shutdown with t.Cleanup, and returns its base URL
// (no trailing slash) and the admin key printed on first start.
func startServer(t *testing.T, args ...string) (baseURL, adminKey string) {
	t.Helper()
	s := startServerOn(t, t.TempDir(), args...)
	return s.url, s.key
}

type testServer struct {
	url, key, data string
	stop           func() error // SIGTERM-like: cancels run's context, returns its error
	logs           *syncBuffer
	out            *syncBuffer // what serve printed on stdout
}

func startServerOn(t *testing.T, data string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	full := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warn", "--sweep-every", "1h", "--drain-delay", "0"}, args...)
	done := make(chan error, 1)
	go func() {
		err := run(ctx, full, pw, logs)
		pw.Close()
		done <- err
	}()
	s := &testServer{data: data, logs: logs, out: &syncBuffer{}}
	lines := make(chan string, 100) // serve prints a few lines only
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.out.Write([]byte(sc.Text() + "\n"))
			select {
			case lines <- sc.Text():
			default: // nobody reads after start-up; keep the pipe flowing
			}
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				cancel()
				t.Fatalf("easel serve exited early: %v\nlogs:\n%s", <-done, logs.String())
			}
			if u, found := strings.CutPrefix(line, "Easel is serving on "); found {
				s.url = strings.TrimSuffix(u, "/")
			}
			if strings.HasPrefix(line, "Sign in at ") { // no bootstrap key
				break wait
			}
			if _, k, found := strings.Cut(line, "/#key="); found {
				s.key = k
				break wait
			}
		case <-deadline:
			cancel()
			t.Fatalf("easel serve did not start in 30 s; logs:\n%s", logs.String())
		}
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(40 * time.Second):
				t.Errorf("easel serve did not stop within 40 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("easel serve exited with %v; logs:\n%s", err, logs.String())
		}
	})
	return s
}
