package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/httpapi"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/offline"
	"github.com/easelhq/easel/service"
)

// liveServer runs a Server on a loopback listener (so that connection deadlines
// apply) and returns its URL and an API key of user "u".
func liveServer(t *testing.T, cfg httpapi.Config, limits service.Limits) (string, string) {
	t.Helper()
	st, fs, _ := localtest.Stores(t, "http://example.test/images/")
	svc, err := service.New(service.Config{Models: []easel.Model{offline.New()}, Catalog: st, Blobs: fs, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	_, key, err := service.CreateKey(context.Background(), st, "u", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Service, cfg.Blobs, cfg.ServeImages = svc, fs, true
	srv := httptest.NewServer(httpapi.New(cfg))
	t.Cleanup(srv.Close)
	return srv.URL, key
}

// A body still arriving after BodyTimeout is cut off with 408 request_timeout.
func TestBodyTimeout(t *testing.T) {
	base, key := liveServer(t, httpapi.Config{BodyTimeout: 300 * time.Millisecond}, service.DefaultLimits())
	conn, err := net.Dial("tcp", base[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/images HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\":", key)
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled body = %d, want 408", resp.StatusCode)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answered after %v, want about the 300 ms body timeout", took)
	}
}
