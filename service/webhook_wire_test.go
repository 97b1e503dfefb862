package service_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
	"github.com/easelhq/easel/webhook"
)

// verifyStandardWebhook checks a delivery as a receiver would, written from the
// Standard Webhooks specification (not with Easel's signer): the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", HMAC-SHA256 with the secret's bytes (the
// base64 after "whsec_"), and webhook-signature holds space-separated "v1,<base64>"
// of which one must match; the timestamp must be within five minutes.
func verifyStandardWebhook(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, s, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

type received struct {
	id   string
	ok   bool
	body map[string]any
}

// Issue 8, done when 4: webhooks through the real sender to a receiver on loopback:
// the signature checks out with the receiver's own code; a receiver failing its first
// 3 tries gets the 4th (same webhook-id); a dead receiver never holds up jobs.
func TestWebhookDeliveryOverTheWire(t *testing.T) {
	var (
		mu    sync.Mutex
		tries []received
	)
	secret := ""
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		tries = append(tries, received{id: r.Header.Get("webhook-id"), ok: verifyStandardWebhook(secret, r.Header, body), body: m})
		if len(tries) <= 3 {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/hook"
	dead.Close() // nothing listens there any more

	e := newJobEnv(t, func(c *service.Config) {
		c.Jobs.Webhooks = webhook.New(webhook.Options{AllowPrivate: true, AllowHTTP: true, Timeout: 2 * time.Second})
	})
	ctx := context.Background()
	sec, err := e.svc.WebhookSecret(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = sec.Key
	mu.Unlock()
	e.svc.StartWorkers()

	deadJob := e.submit(t, e.alice, "for nobody", service.JobOptions{Webhook: deadURL})
	j := e.submit(t, e.alice, "hooked", service.JobOptions{Webhook: recv.URL + "/hook"})
	if got := e.wait(t, e.alice, deadJob.ID); got.Status != easel.JobSucceeded {
		t.Fatalf("job with a dead receiver = %s, want succeeded", got.Status)
	}
	e.wait(t, e.alice, j.ID)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(tries)
		mu.Unlock()
		if n >= 4 || time.Now().After(deadline) {
			break
		}
		e.clock.Add(time.Hour) // past any backoff
		if err := e.svc.Reap(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tries) != 4 {
		t.Fatalf("receiver got %d tries, want 4 (3 refused, then taken)", len(tries))
	}
	for i, tr := range tries {
		if !tr.ok {
			t.Errorf("try %d: the signature does not verify", i+1)
		}
		if tr.id != tries[0].id || !strings.HasPrefix(tr.id, "evt_"+j.ID) {
			t.Errorf("try %d: webhook-id %q, want the same id on every retry", i+1, tr.id)
		}
	}
	last := tries[3].body
	data, _ := last["data"].(map[string]any)
	if last["type"] != "job.succeeded" || data["id"] != j.ID || data["status"] != "succeeded" {
		t.Errorf("delivered body = %v", last)
	}
}
