package signedurl

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/localfs"
)

func newHMAC(t *testing.T) *HMAC {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	h, err := NewHMAC(key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestExpires(t *testing.T) {
	now := time.Date(2026, 12, 4, 13, 7, 41, 500e6, time.UTC)
	for _, tc := range []struct {
		expiry time.Duration
		want   time.Time
	}{
		{time.Hour, time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)},        // 14:07:41 down to a quarter hour
		{4 * time.Second, time.Date(2026, 12, 4, 13, 7, 45, 0, time.UTC)}, // whole seconds
		{time.Second, time.Date(2026, 12, 4, 13, 7, 42, 0, time.UTC)},
	} {
		got := Expires(now, tc.expiry)
		if !got.Equal(tc.want) {
			t.Errorf("Expires(%s, %s) = %s, want %s", now, tc.expiry, got, tc.want)
		}
		if left := got.Sub(now); left > tc.expiry || left < tc.expiry*3/4-time.Second {
			t.Errorf("Expires(%s): valid for %s", tc.expiry, left)
		}
	}
}

func TestHMAC(t *testing.T) {
	h := newHMAC(t)
	now := time.Now()
	key := easel.ImageKey(easel.NewID(), "image/png")
	signed, err := h.Sign(key, "/images/"+key, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	q := func(s string) url.Values {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}
	if _, err := h.Verify(key, q(signed), now); err != nil {
		t.Fatalf("Verify(signed) = %v", err)
	}
	if _, err := h.Verify(key, q(signed), now.Add(time.Minute)); !errors.Is(err, ErrExpired) {
		t.Errorf("Verify at expiry = %v, want ErrExpired", err)
	}
	if _, err := h.Verify(key, url.Values{}, now); !errors.Is(err, ErrUnsigned) {
		t.Errorf("Verify(unsigned) = %v, want ErrUnsigned", err)
	}
	other := easel.ImageKey(easel.NewID(), "image/png")
	if _, err := h.Verify(other, q(signed), now); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(other key) = %v, want ErrBadSignature", err)
	}
	if _, err := newHMAC(t).Verify(key, q(signed), now); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify with another secret = %v, want ErrBadSignature", err)
	}
	// A URL with a query keeps it.
	s2, _ := h.Sign(key, "https://cdn.example.com/images/"+key+"?v=1", now.Add(time.Minute))
	if !strings.Contains(s2, "?v=1&expires=") {
		t.Errorf("Sign kept no query: %s", s2)
	}
	if _, err := NewHMAC(make([]byte, 16)); err == nil {
		t.Error("NewHMAC accepted a 16-byte key")
	}
}

func TestStoreSignsURLs(t *testing.T) {
	inner, err := localfs.New(t.TempDir(), "/images/")
	if err != nil {
		t.Fatal(err)
	}
	h := newHMAC(t)
	st, err := New(inner, h, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key := easel.ImageKey(easel.NewID(), "image/png")
	u, err := st.URL(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := url.Parse(u)
	if p.Path != "/images/"+key {
		t.Errorf("URL path = %q", p.Path)
	}
	if _, err := h.Verify(key, p.Query(), time.Now()); err != nil {
		t.Errorf("Verify(URL) = %v", err)
	}
	if _, err := New(inner, h, 0); err == nil {
		t.Error("New accepted expiry 0")
	}
}

// countingSigner counts the signatures it makes.
type countingSigner struct {
	Signer
	n int
}

func (c *countingSigner) Sign(key, rawURL string, expires time.Time) (string, error) {
	c.n++
	return c.Signer.Sign(key, rawURL, expires)
}

func TestStoreReusesURLsWithinAQuarter(t *testing.T) {
	inner, _ := localfs.New(t.TempDir(), "/images/")
	cs := &countingSigner{Signer: newHMAC(t)}
	st, _ := New(inner, cs, time.Hour)
	now := time.Date(2026, 12, 4, 13, 1, 0, 0, time.UTC)
	st.now = func() time.Time { return now }
	ctx := context.Background()
	a, b := easel.ImageKey(easel.NewID(), "image/png"), easel.ImageKey(easel.NewID(), "image/jpeg")
	u1, _ := st.URL(ctx, a)
	now = now.Add(10 * time.Minute) // same quarter hour of expiry
	u2, _ := st.URL(ctx, a)
	if u1 != u2 || cs.n != 1 {
		t.Errorf("within a quarter: %q then %q, %d signatures; want the same URL, signed once", u1, u2, cs.n)
	}
	if ub, _ := st.URL(ctx, b); ub == u1 || cs.n != 2 {
		t.Errorf("another key got %q after %d signatures", ub, cs.n)
	}
	now = now.Add(10 * time.Minute) // 13:21: the next quarter
	u3, _ := st.URL(ctx, a)
	if u3 == u1 || cs.n != 3 {
		t.Errorf("next quarter: %q (signatures %d), want a new URL", u3, cs.n)
	}
}
