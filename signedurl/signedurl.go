// Package signedurl makes image URLs that expire (private images): a BlobStore
// decorator whose URL signs what the store answers, with an HMAC signer for the images
// Easel serves itself under /images/ and a CloudFront signer (canned policy) for those a
// CDN serves.
package signedurl

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/easelhq/easel"
)

// Signer signs the URL at which clients fetch the object key, so that it works until
// expires and not after.
type Signer interface {
	Sign(key, rawURL string, expires time.Time) (string, error)
}

// MinExpiry is the shortest expiry a Store accepts.
const MinExpiry = time.Second

// CacheSize bounds the signed URLs a Store keeps for reuse (about 300 bytes each).
const CacheSize = 20000

// Store is a BlobStore whose URLs are signed and expire; every other method is the
// inner store's. URLs signed within the same quarter of the expiry are equal (see
// Expires), so a Store keeps those it signed for the current expiry and answers them
// again: a CloudFront signature (RSA) costs milliseconds, and a page of 50 images asks
// for 100 URLs.
type Store struct {
	easel.BlobStore
	signer Signer
	expiry time.Duration
	now    func() time.Time

	mu       sync.Mutex
	cacheExp time.Time         // the expiry of the cached URLs
	cache    map[string]string // object key → signed URL, for cacheExp
}

// New returns inner with URLs signed by signer, valid for at most expiry (at least
// three quarters of it: see Expires).
func New(inner easel.BlobStore, signer Signer, expiry time.Duration) (*Store, error) {
	if expiry < MinExpiry {
		return nil, fmt.Errorf("signedurl: expiry %s is shorter than %s", expiry, MinExpiry)
	}
	return &Store{BlobStore: inner, signer: signer, expiry: expiry, now: time.Now}, nil
}

// URL returns the inner store's URL for key, signed.
func (s *Store) URL(ctx context.Context, key string) (string, error) {
	exp := Expires(s.now(), s.expiry)
	s.mu.Lock()
	if !exp.Equal(s.cacheExp) {
		s.cacheExp, s.cache = exp, make(map[string]string)
	}
	signed, ok := s.cache[key]
	s.mu.Unlock()
	if ok {
		return signed, nil
	}
	u, err := s.BlobStore.URL(ctx, key)
	if err != nil {
		return "", err
	}
	if signed, err = s.signer.Sign(key, u, exp); err != nil {
		return "", err
	}
	s.mu.Lock()
	if exp.Equal(s.cacheExp) && len(s.cache) < CacheSize {
		s.cache[key] = signed
	}
	s.mu.Unlock()
	return signed, nil
}

// Expires is the expiry of a URL signed at now with lifetime expiry: now+expiry rounded
// down to a quarter of expiry (whole seconds). URLs signed within the same quarter are
// the same, so a browser's cache and a CDN's keep working across page loads, and none
// lives longer than expiry.
func Expires(now time.Time, expiry time.Duration) time.Time {
	step := (expiry / 4).Truncate(time.Second)
	if step < time.Second {
		step = time.Second
	}
	return now.Add(expiry).Truncate(step)
}

// Query parameters of a URL signed by HMAC.
const (
	ExpiresParam   = "expires"
	SignatureParam = "signature"
)

// KeySetting names the catalog setting that holds the HMAC key.
const KeySetting = "url-signing-key"

// Errors of HMAC.Verify.
var (
	ErrUnsigned     = errors.New("the URL is not signed")
	ErrExpired      = errors.New("the URL has expired")
	ErrBadSignature = errors.New("the URL's signature is not valid")
)

// HMAC signs URLs with HMAC-SHA256 over the object key and the expiry, appended as
// ?expires=<unix seconds>&signature=<base64url>. The host and path are not signed: a
// URL that Easel makes absolute on the caller's host later keeps its signature.
type HMAC struct {
	key []byte
}

// NewHMAC returns a signer with key (at least 32 bytes).
func NewHMAC(key []byte) (*HMAC, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("signedurl: HMAC key of %d bytes, want at least 32", len(key))
	}
	return &HMAC{key: key}, nil
}

// LoadKey returns the HMAC key kept in the catalog under KeySetting, storing a fresh
// random one first if there is none (first writer wins, so every instance sharing the
// catalog signs and checks with the same key).
func LoadKey(ctx context.Context, settings interface {
	Setting(ctx context.Context, name string, value []byte) ([]byte, error)
}) ([]byte, error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	key, err := settings.Setting(ctx, KeySetting, fresh)
	if err != nil {
		return nil, fmt.Errorf("URL signing key: %w", err)
	}
	return key, nil
}

func (h *HMAC) mac(key string, expires int64) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("easel-image-url\x00"))
	m.Write([]byte(key))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(expires, 10)))
	return m.Sum(nil)
}

// Sign appends the expiry and the signature to rawURL's query.
func (h *HMAC) Sign(key, rawURL string, expires time.Time) (string, error) {
	exp := expires.Unix()
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	return rawURL + sep + ExpiresParam + "=" + strconv.FormatInt(exp, 10) + "&" + SignatureParam + "=" +
		base64.RawURLEncoding.EncodeToString(h.mac(key, exp)), nil
}

// Verify checks the expiry and signature in query for key at now, and returns the
// expiry.
func (h *HMAC) Verify(key string, query url.Values, now time.Time) (time.Time, error) {
	es, ss := query.Get(ExpiresParam), query.Get(SignatureParam)
	if es == "" && ss == "" {
		return time.Time{}, ErrUnsigned
	}
	exp, err := strconv.ParseInt(es, 10, 64)
	if err != nil || len(ss) > 64 {
		return time.Time{}, ErrBadSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(ss)
	if err != nil || !hmac.Equal(sig, h.mac(key, exp)) {
		return time.Time{}, ErrBadSignature
	}
	t := time.Unix(exp, 0)
	if !now.Before(t) {
		return time.Time{}, ErrExpired
	}
	return t, nil
}
