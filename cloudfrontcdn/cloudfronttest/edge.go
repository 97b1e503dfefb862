// Package cloudfronttest holds wire fakes of Amazon CloudFront for tests: Edge, a
// distribution's edge that requires signed URLs (canned policy) from a trusted key
// group before it serves objects from an origin, and API, the CloudFront control-plane
// call CreateInvalidation (REST-XML, SigV4-checked).
//
// They are fakes: the edge checks canned-policy signatures as CloudFront documents them
// and caches nothing; the API serves CreateInvalidation only.
package cloudfronttest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Origin answers the edge's requests for a path (such as /images/<key>) with the
// object's bytes and content type, or found false.
type Origin func(path string) (data []byte, contentType string, found bool)

// Edge is a CloudFront distribution's edge that serves only signed URLs. It is safe for
// concurrent use.
type Edge struct {
	srv    *httptest.Server
	origin Origin
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*rsa.PublicKey // the trusted key group: key pair id → public key
}

// NewEdge starts an edge on a loopback port whose trusted key group holds keys (key
// pair id → public key); it is closed when the test ends.
func NewEdge(t testing.TB, origin Origin, keys map[string]*rsa.PublicKey) *Edge {
	t.Helper()
	e := &Edge{origin: origin, now: time.Now, keys: map[string]*rsa.PublicKey{}}
	for id, k := range keys {
		e.keys[id] = k
	}
	e.srv = httptest.NewServer(e)
	t.Cleanup(e.srv.Close)
	return e
}

// URL is the distribution's address (http://127.0.0.1:PORT, no trailing slash).
func (e *Edge) URL() string { return e.srv.URL }

// SetKey adds a public key to the trusted key group, or removes it when pub is nil
// (key rotation).
func (e *Edge) SetKey(id string, pub *rsa.PublicKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if pub == nil {
		delete(e.keys, id)
		return
	}
	e.keys[id] = pub
}

// ServeHTTP checks the request's signed URL, then serves the object from the origin.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := e.Check(r.URL, r.Host); err != nil {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>%s</Message></Error>", err)
		return
	}
	data, ct, ok := e.origin(r.URL.Path)
	if !ok {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code></Error>")
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// Check verifies a canned-policy signed URL as CloudFront does: Expires, Signature
// and Key-Pair-Id present; the key pair in the trusted key group; the RSA-SHA1
// signature over the canned policy of the URL without those three parameters; and
// the expiry still ahead.
func (e *Edge) Check(u *url.URL, host string) error {
	q := u.Query()
	exp, sig, kid := q.Get("Expires"), q.Get("Signature"), q.Get("Key-Pair-Id")
	if exp == "" || sig == "" || kid == "" {
		return fmt.Errorf("missing Key-Pair-Id, Signature or Expires query parameter(s)")
	}
	e.mu.Lock()
	pub := e.keys[kid]
	e.mu.Unlock()
	if pub == nil {
		return fmt.Errorf("unknown key")
	}
	expires, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid Expires")
	}
	// The resource is the URL as requested, less the three signing parameters, which
	// the signer appended last.
	raw := "http://" + host + u.EscapedPath()
	if rest := stripSigning(u.RawQuery); rest != "" {
		raw += "?" + rest
	}
	policy := fmt.Sprintf(`{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, raw, expires)
	b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(sig))
	if err != nil {
		return fmt.Errorf("invalid Signature encoding")
	}
	sum := sha1.Sum([]byte(policy))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], b); err != nil {
		return fmt.Errorf("invalid signature")
	}
	if !e.now().Before(time.Unix(expires, 0)) {
		return fmt.Errorf("access denied: the URL expired")
	}
	return nil
}

// stripSigning removes Expires, Signature and Key-Pair-Id from a raw query.
func stripSigning(raw string) string {
	var keep []string
	for _, p := range strings.Split(raw, "&") {
		name, _, _ := strings.Cut(p, "=")
		if p == "" || name == "Expires" || name == "Signature" || name == "Key-Pair-Id" {
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, "&")
}
