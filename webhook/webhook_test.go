package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/webhook"
)

// verify checks a delivery the way a receiver does, written here from the Standard
// Webhooks specification rather than with the package's signer: the three headers are
// required; webhook-timestamp is Unix seconds within 5 minutes of now; the signed
// content is "<webhook-id>.<webhook-timestamp>.<raw body>"; the HMAC-SHA256 key is the
// base64 decoding of the secret after "whsec_"; webhook-signature holds space-delimited
// "v1,<base64 signature>" entries, any of which may match (compared in constant time).
func verify(h http.Header, body []byte, secret string, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is %v from now", ts, d)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(s, ",")
		if ok && version == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	accepts atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepts.Add(1)
	}
	return c, err
}

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is an https server on loopback that records deliveries and answers with
// the statuses in script (then 204).
type receiver struct {
	srv    *httptest.Server
	ln     *countingListener
	mu     sync.Mutex
	got    []delivery
	script []int
	delay  time.Duration
}

func newReceiver(t *testing.T, tls bool, script ...int) *receiver {
	t.Helper()
	r := &receiver{script: script}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body})
		status := http.StatusNoContent
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		delay := r.delay
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
			}
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(status)
	}))
	r.ln = &countingListener{Listener: r.srv.Listener}
	r.srv.Listener = r.ln
	if tls {
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// devSender trusts the receiver's certificate and allows loopback, as development does.
func devSender(r *receiver, o webhook.Options) *webhook.Sender {
	pool := x509.NewCertPool()
	if c := r.srv.Certificate(); c != nil {
		pool.AddCert(c)
	}
	o.RootCAs, o.AllowPrivate = pool, true
	return webhook.New(o)
}

func message(url string, keys ...string) *easel.WebhookMessage {
	return &easel.WebhookMessage{URL: url, ID: "job1.4", Timestamp: time.Now(),
		Body: []byte(`{"type":"job.succeeded","timestamp":"2026-11-27T10:00:00Z","data":{"id":"job1"}}`), Keys: keys}
}

func TestSendSigned(t *testing.T) {
	r := newReceiver(t, true)
	s := devSender(r, webhook.Options{})
	key := webhook.NewKey()
	m := message(r.srv.URL+"/hooks/easel?token=abc", key)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	got := r.deliveries()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d deliveries, want 1", len(got))
	}
	d := got[0]
	if err := verify(d.header, d.body, key, time.Now()); err != nil {
		t.Errorf("the receiver's check failed: %v", err)
	}
	if string(d.body) != string(m.Body) || d.header.Get("Content-Type") != "application/json" ||
		d.header.Get("webhook-id") != "job1.4" || d.header.Get("webhook-timestamp") != strconv.FormatInt(m.Timestamp.Unix(), 10) {
		t.Errorf("delivery = %v %s, want the body as is, JSON, the id and the timestamp", d.header, d.body)
	}
	if err := verify(d.header, d.body, webhook.NewKey(), time.Now()); err == nil {
		t.Errorf("another key verified the delivery")
	}
	if err := verify(d.header, []byte(string(d.body)+" "), key, time.Now()); err == nil {
		t.Errorf("a changed body verified")
	}
	if err := verify(d.header, d.body, key, time.Now().Add(6*time.Minute)); err == nil {
		t.Errorf("a delivery 6 minutes old verified")
	}
}

// TestRotation: during a key's grace period both signatures are sent, and a receiver
// with either key accepts the delivery.
func TestRotation(t *testing.T) {
	r := newReceiver(t, true)
	s := devSender(r, webhook.Options{})
	old, cur := webhook.NewKey(), webhook.NewKey()
	if err := s.Send(context.Background(), message(r.srv.URL, cur, old)); err != nil {
		t.Fatal(err)
	}
	d := r.deliveries()[0]
	if n := len(strings.Split(d.header.Get("webhook-signature"), " ")); n != 2 {
		t.Errorf("webhook-signature %q has %d entries, want 2", d.header.Get("webhook-signature"), n)
	}
	for _, k := range []string{old, cur} {
		if err := verify(d.header, d.body, k, time.Now()); err != nil {
			t.Errorf("a receiver with one of the keys refused the delivery: %v", err)
		}
	}
}

func TestAnswers(t *testing.T) {
	ctx := context.Background()
	t.Run("non-2xx is an error to retry", func(t *testing.T) {
		r := newReceiver(t, true, 500, 429, 200)
		s := devSender(r, webhook.Options{})
		for i, want := range []string{"answered 500", "answered 429", ""} {
			err := s.Send(ctx, message(r.srv.URL, webhook.NewKey()))
			if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want) || easel.IsCode(err, easel.EInvalid)) {
				t.Errorf("try %d: Send = %v, want %q", i+1, err, want)
			}
		}
	})
	t.Run("no redirects", func(t *testing.T) {
		target := newReceiver(t, false)
		r := newReceiver(t, true, 307)
		r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, target.srv.URL, http.StatusTemporaryRedirect)
		})
		s := devSender(r, webhook.Options{AllowHTTP: true})
		if err := s.Send(ctx, message(r.srv.URL, webhook.NewKey())); err == nil || !strings.Contains(err.Error(), "redirects are not followed") {
			t.Errorf("Send to a redirect = %v", err)
		}
		if n := target.ln.accepts.Load(); n != 0 {
			t.Errorf("the redirect target got %d connections, want 0", n)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := newReceiver(t, true)
		r.delay = 3 * time.Second
		s := devSender(r, webhook.Options{Timeout: 300 * time.Millisecond})
		start := time.Now()
		err := s.Send(ctx, message(r.srv.URL, webhook.NewKey()))
		if err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("Send to a slow receiver = %v after %v, want an error after the 300 ms limit", err, time.Since(start))
		}
	})
	t.Run("no secrets in errors", func(t *testing.T) {
		r := newReceiver(t, true, 500)
		s := devSender(r, webhook.Options{})
		err := s.Send(ctx, message(r.srv.URL+"/hook?token=hunter2", webhook.NewKey()))
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Send = %v, want an error without the URL's query", err)
		}
	})
	t.Run("bad keys are refused before sending", func(t *testing.T) {
		r := newReceiver(t, true)
		s := devSender(r, webhook.Options{})
		for _, k := range []string{"", "secret", "whsec_!!!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
			if err := s.Send(ctx, message(r.srv.URL, k)); err == nil {
				t.Errorf("Send with key %q = nil error", k)
			}
		}
		if err := s.Send(ctx, message(r.srv.URL)); err == nil {
			t.Errorf("Send without keys = nil error")
		}
		if n := r.ln.accepts.Load(); n != 0 {
			t.Errorf("%d connections were made", n)
		}
	})
}

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := webhook.NewKey()
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(k, "whsec_"))
		if !strings.HasPrefix(k, "whsec_") || err != nil || len(b) != 32 || seen[k] {
			t.Fatalf("NewKey() = %q: want whsec_ and the base64 of 32 new random bytes", k)
		}
		seen[k] = true
	}
}

// fakeResolver answers from a table, in turn: each name's answers are used one after
// the other (the last one repeats), as a DNS-rebinding attacker's server would.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]string
	asked   map[string]int
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(f.asked[host], len(seq)-1)
	f.asked[host]++
	var out []netip.Addr
	for _, s := range seq[i] {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

// TestSSRF: every forbidden address is refused by Check and by Send with EInvalid
// (param webhook), and Send makes no connection: loopback targets point at a listener
// that counts connections; other addresses go through a connect function that records
// any attempt (so that no test traffic leaves loopback even if a check were missing).
func TestSSRF(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingListener{Listener: ln}
	defer ln.Close()
	go func() {
		for {
			c, err := counting.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	res := &fakeResolver{asked: map[string]int{}, answers: map[string][][]string{
		"loopback.example":  {{"127.0.0.1"}},
		"metadata.example":  {{"169.254.169.254"}},
		"metadata6.example": {{"fd00:ec2::254"}},
		"mixed.example":     {{"93.184.216.34", "10.1.2.3"}},
		"mapped.example":    {{"::ffff:127.0.0.1"}},
		"nat64.example":     {{"64:ff9b::a9fe:a9fe"}},
		"sixtofour.example": {{"2002:7f00:1::"}},
		"localhost":         {{"127.0.0.1", "::1"}},
	}}
	var attempts atomic.Int64
	s := webhook.New(webhook.Options{Resolver: res})
	webhook.SetConnect(s, func(ctx context.Context, network, addr string) (net.Conn, error) {
		attempts.Add(1)
		return nil, fmt.Errorf("test: a connection to %s was attempted", addr)
	})
	real := webhook.New(webhook.Options{Resolver: res}) // connects for real: loopback cases only
	for _, tt := range []struct {
		url      string
		loopback bool // safe to try with the real dialer
	}{
		{"https://127.0.0.1:" + port + "/", true},
		{"https://127.1.2.3:" + port + "/", true},
		{"https://[::1]:" + port + "/", true},
		{"https://[::ffff:127.0.0.1]:" + port + "/", true},
		{"https://loopback.example:" + port + "/", true},
		{"https://localhost:" + port + "/", true},
		{"https://mapped.example:" + port + "/", true},
		{"https://0.0.0.0:" + port + "/", true},
		{"https://[::]:" + port + "/", true},
		{"https://10.0.0.1/", false},
		{"https://172.16.5.4/", false},
		{"https://172.31.255.255/", false},
		{"https://192.168.1.1/", false},
		{"https://169.254.169.254/latest/meta-data/", false},
		{"https://metadata.example/", false},
		{"https://[fd00:ec2::254]/", false},
		{"https://metadata6.example/", false},
		{"https://[fc00::1]/", false},
		{"https://[fe80::1]/", false},
		{"https://[fe80::1%25eth0]/", false},
		{"https://100.64.0.1/", false},
		{"https://100.127.255.254/", false},
		{"https://224.0.0.1/", false},
		{"https://255.255.255.255/", false},
		{"https://[ff02::1]/", false},
		{"https://[::ffff:169.254.169.254]/", false},
		{"https://[::ffff:10.0.0.1]/", false},
		{"https://nat64.example/", false},
		{"https://[64:ff9b::a00:1]/", false},
		{"https://sixtofour.example/", false},
		{"https://mixed.example/", false},
		{"https://192.0.2.1/", false},
		{"https://198.18.0.1/", false},
		{"https://2130706433/", false}, // decimal 127.0.0.1: not an address to Go, and it does not resolve
		{"https://0177.0.0.1/", false}, // octal: likewise
		{"https://unknown.example/", false},
	} {
		t.Run(tt.url, func(t *testing.T) {
			for name, err := range map[string]error{
				"Check": s.Check(context.Background(), tt.url),
				"Send":  s.Send(context.Background(), message(tt.url, webhook.NewKey())),
			} {
				var e *easel.Error
				if !errors.As(err, &e) || e.Code != easel.EInvalid || e.Param != "webhook" {
					t.Errorf("%s(%s) = %v, want EInvalid with param webhook", name, tt.url, err)
				}
			}
			if tt.loopback {
				if err := real.Send(context.Background(), message(tt.url, webhook.NewKey())); !easel.IsCode(err, easel.EInvalid) {
					t.Errorf("Send(%s) with the real dialer = %v, want EInvalid", tt.url, err)
				}
			}
		})
	}
	if n := attempts.Load(); n != 0 {
		t.Errorf("%d connections were attempted to forbidden addresses", n)
	}
	if n := counting.accepts.Load(); n != 0 {
		t.Errorf("the loopback listener accepted %d connections, want 0", n)
	}
	// Public addresses pass Check (nothing is sent to them).
	res.answers["public.example"] = [][]string{{"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"}}
	for _, u := range []string{"https://public.example/hook", "https://93.184.216.34/", "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/"} {
		if err := s.Check(context.Background(), u); err != nil {
			t.Errorf("Check(%s) = %v, want nil", u, err)
		}
	}
}

func TestURLForm(t *testing.T) {
	s := webhook.New(webhook.Options{Resolver: &fakeResolver{answers: map[string][][]string{"public.example": {{"93.184.216.34"}}}, asked: map[string]int{}}})
	for _, u := range []string{
		"http://public.example/hook",        // plain http
		"ftp://public.example/hook",         // not http
		"https://user:pass@public.example/", // credentials
		"https://public.example/#frag",
		"https:///hook",
		"https://public.example:0/",
		"https://public.example:99999/",
		"/relative",
		"https://public.example/" + strings.Repeat("a", 2048),
		"https://[::1/",
	} {
		var e *easel.Error
		if err := s.Check(context.Background(), u); !errors.As(err, &e) || e.Code != easel.EInvalid || e.Param != "webhook" || e.Message == "" {
			t.Errorf("Check(%q) = %v, want EInvalid with param webhook and a message", u, err)
		}
	}
	dev := webhook.New(webhook.Options{AllowHTTP: true, AllowPrivate: true})
	for _, u := range []string{"http://127.0.0.1:8080/hook", "https://[::1]/", "http://10.0.0.1/"} {
		if err := dev.Check(context.Background(), u); err != nil {
			t.Errorf("development Check(%q) = %v, want nil", u, err)
		}
	}
}

// TestRebinding: a host that resolves to a public address when checked and to
// loopback when connecting is refused at connect time, with no connection made.
func TestRebinding(t *testing.T) {
	r := newReceiver(t, true)
	port := strconv.Itoa(r.ln.Addr().(*net.TCPAddr).Port)
	res := &fakeResolver{asked: map[string]int{}, answers: map[string][][]string{
		"rebind.example": {{"93.184.216.34"}, {"127.0.0.1"}},
	}}
	pool := x509.NewCertPool()
	pool.AddCert(r.srv.Certificate())
	s := webhook.New(webhook.Options{Resolver: res, RootCAs: pool})
	url := "https://rebind.example:" + port + "/hook"
	if err := s.Check(context.Background(), url); err != nil {
		t.Fatalf("Check = %v, want nil (the first answer is public)", err)
	}
	err := s.Send(context.Background(), message(url, webhook.NewKey()))
	var e *easel.Error
	if !errors.As(err, &e) || e.Code != easel.EInvalid || e.Param != "webhook" {
		t.Errorf("Send after rebinding = %v, want EInvalid with param webhook", err)
	}
	if n := r.ln.accepts.Load(); n != 0 || len(r.deliveries()) != 0 {
		t.Errorf("the receiver accepted %d connections, want 0", n)
	}
	if res.asked["rebind.example"] != 2 {
		t.Errorf("the host was resolved %d times, want 2 (Check, then at connect time)", res.asked["rebind.example"])
	}
}

// TestControl: the dialer's last check refuses forbidden socket addresses.
func TestControl(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:443":         false,
		"[::1]:443":             false,
		"169.254.169.254:80":    false,
		"[fd00:ec2::254]:80":    false,
		"10.0.0.1:443":          false,
		"[::ffff:127.0.0.1]:80": false,
		"93.184.216.34:443":     true,
		"[2606:4700::1]:443":    true,
		"not an address":        false,
	} {
		if err := webhook.Control("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("Control(%s) = %v, want allowed %v", addr, err, ok)
		}
	}
}

func TestAllowed(t *testing.T) {
	for s, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2001:4860:4860::8888": true, "100.63.255.255": true, "100.128.0.0": true,
		"172.15.255.255": true, "172.32.0.0": true, "192.169.0.0": true, "2002:5db8:d822::": true,
		"64:ff9b::808:808": true,
		"127.0.0.1":        false, "0.0.0.0": false, "::": false, "::1": false, "169.254.0.1": false, "fe80::1": false,
		"fc00::": false, "fdff:ffff::1": false, "100.64.0.0": false, "::ffff:192.168.0.1": false, "::7f00:1": false,
		"2001:db8::1": false, "2001::1": false, "ff02::1": false, "240.0.0.1": false, "198.19.255.255": false,
	} {
		if got := webhook.Allowed(netip.MustParseAddr(s)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", s, got, want)
		}
	}
}

// BenchmarkSign measures signing one delivery of a typical job body (4 KiB) with one
// key and with two (during a rotation's grace period).
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"type":"job.succeeded","timestamp":"2026-11-27T10:00:00Z","data":` + `{"x":"` + strings.Repeat("a", 4000) + `"}}`)
	for _, n := range []int{1, 2} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = webhook.NewKey()
		}
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := webhook.Signature("job1.4", 1795000000, body, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
