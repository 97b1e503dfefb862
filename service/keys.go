package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/easelhq/easel"
)

// KeyPrefix starts every API key, so that keys are recognisable in secret scanners.
const KeyPrefix = "easel_"

// maxKeyLength bounds the Authorization header work before any lookup.
const maxKeyLength = 128

// Principal is the authenticated caller.
type Principal struct {
	UserID string
	KeyID  string // the API key's id; empty for a session
	// Session is set for a person signed in with a session cookie (single sign-on).
	Session bool
}

// HashKey returns the SHA-256 of an API key. Keys carry 256 random bits, so a fast
// hash is the right tool (a slow password hash would add nothing but latency).
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// ValidUserID reports whether s is an acceptable user name: 1-64 of [a-zA-Z0-9._@-].
func ValidUserID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
			return false
		}
	}
	return true
}

// CreateKey makes a new API key for user and stores its hash. The returned string is
// the only copy of the key.
func CreateKey(ctx context.Context, c easel.KeyCatalog, user string, now time.Time) (*easel.APIKey, string, error) {
	if !ValidUserID(user) {
		return nil, "", easel.ParamErrorf("user", "A user name is 1-64 letters, digits, '.', '_', '@' or '-'.")
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	k := &easel.APIKey{
		ID:        easel.NewID()[:12],
		UserID:    user,
		Hash:      HashKey(key),
		CreatedAt: now.UTC().Truncate(time.Millisecond),
	}
	if err := c.CreateKey(ctx, k); err != nil {
		return nil, "", fmt.Errorf("create key: %w", err)
	}
	return k, key, nil
}

// Authenticate returns the principal an API key belongs to, or EUnauthorized. Results
// are cached briefly, so a revoked key stops working within the cache lifetime (30 s).
func (s *Service) Authenticate(ctx context.Context, key string) (*Principal, error) {
	unauthorized := easel.Errorf(easel.EUnauthorized, "A valid API key is required: send it as 'Authorization: Bearer <key>'.")
	if key == "" || len(key) > maxKeyLength || !strings.HasPrefix(key, KeyPrefix) {
		return nil, unauthorized
	}
	hash := HashKey(key)
	now := s.now()
	if p, ok := s.keys.get(hash, now); ok {
		return p, nil
	}
	k, err := s.catalog.KeyByHash(ctx, hash)
	switch {
	case easel.IsCode(err, easel.ENotFound):
		return nil, unauthorized
	case err != nil:
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	// The lookup was by hash; compare again in constant time so that a backend whose
	// lookup were ever lenient (prefix, case) could not let a wrong key in.
	if subtle.ConstantTimeCompare(k.Hash, hash) != 1 || k.RevokedAt != nil {
		return nil, unauthorized
	}
	p := &Principal{UserID: k.UserID, KeyID: k.ID}
	s.keys.put(hash, p, now)
	return p, nil
}

// keyCache remembers recent successful authentications.
type keyCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[[32]byte]keyCacheEntry
}

type keyCacheEntry struct {
	p       *Principal
	expires time.Time
}

func newKeyCache(ttl time.Duration, max int) *keyCache {
	return &keyCache{ttl: ttl, max: max, m: make(map[[32]byte]keyCacheEntry)}
}

func (c *keyCache) get(hash []byte, now time.Time) (*Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[[32]byte(hash)]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	return e.p, true
}

func (c *keyCache) put(hash []byte, p *Principal, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m) // bounded memory; the next lookups refill it
	}
	c.m[[32]byte(hash)] = keyCacheEntry{p: p, expires: now.Add(c.ttl)}
}
