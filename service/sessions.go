package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/easelhq/easel"
)

// Sessions of people signed in through single sign-on. The session id is 256 random
// bits that live only in the person's cookie; the catalog keeps their SHA-256, so a
// copy of the catalog signs nobody in. The CSRF token of a session is derived from
// its id (SessionCSRF), so it needs no storage and cannot be guessed without the id.

// SessionPrefix starts every session id, so that it is recognisable in secret scanners.
const SessionPrefix = "easels_"

// maxSessionLength bounds the cookie work before any lookup.
const maxSessionLength = 128

// identitySetting prefixes the catalog setting that maps an issuer's subject to an
// Easel user: the first sign-in stores the mapping (first writer wins, across
// processes), later ones read it.
const identitySetting = "oidc-identity/"

// Identity is who the identity provider says signed in.
type Identity = easel.Identity

// identityRecord is what the catalog keeps of a mapped identity.
type identityRecord struct {
	UserID    string    `json:"user_id"`
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub"`
	CreatedAt time.Time `json:"created_at"`
	// Claim is random per attempt, so that the one attempt that stored the record
	// knows it did (two attempts in the same millisecond propose different bytes).
	Claim string `json:"claim"`
}

// UserForIdentity returns the Easel user of an issuer's subject, creating it on the
// first sign-in (created true). The user id is "sso-" and 24 characters of the
// SHA-256 of issuer and subject: stable, unique per person and free of personal data.
// E-mail addresses are not used: a provider may reassign them.
func (s *Service) UserForIdentity(ctx context.Context, id Identity) (userID string, created bool, err error) {
	if id.Issuer == "" || id.Subject == "" {
		return "", false, easel.Errorf(easel.EUnauthorized, "The identity provider named no subject.")
	}
	sum := sha256.Sum256([]byte(id.Issuer + "\x00" + id.Subject))
	name := identitySetting + base64.RawURLEncoding.EncodeToString(sum[:])
	fresh := identityRecord{
		UserID:    "sso-" + strings.ToLower(base32.StdEncoding.EncodeToString(sum[:15])),
		Issuer:    id.Issuer,
		Subject:   id.Subject,
		CreatedAt: s.now().UTC().Truncate(time.Millisecond),
		Claim:     easel.NewID(),
	}
	value, err := json.Marshal(fresh)
	if err != nil {
		return "", false, fmt.Errorf("encode identity: %w", err)
	}
	stored, err := s.catalog.Setting(ctx, name, value)
	if err != nil {
		return "", false, fmt.Errorf("map identity: %w", err)
	}
	var rec identityRecord
	if err := json.Unmarshal(stored, &rec); err != nil || !ValidUserID(rec.UserID) {
		return "", false, fmt.Errorf("map identity: stored record %s is not valid", name)
	}
	return rec.UserID, string(stored) == string(value), nil
}

// HashSession returns the SHA-256 of a session id.
func HashSession(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// SessionCSRF returns the CSRF token of a session: a hash of its id under a label of
// its own, so that the page may read it while the id stays in an HttpOnly cookie.
func SessionCSRF(id string) string {
	h := sha256.Sum256([]byte("easel-csrf\x00" + id))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// StartSession creates a session of user that lasts ttl and returns its id, the only
// copy, for the cookie.
func (s *Service) StartSession(ctx context.Context, user string, ttl time.Duration) (id string, sess *easel.Session, err error) {
	if !ValidUserID(user) {
		return "", nil, easel.Errorf(easel.EInvalid, "Not a valid user.")
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", nil, fmt.Errorf("start session: %w", err)
	}
	id = SessionPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	now := s.now().UTC().Truncate(time.Millisecond)
	sess = &easel.Session{Hash: HashSession(id), UserID: user, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.catalog.CreateSession(ctx, sess); err != nil {
		return "", nil, fmt.Errorf("start session: %w", err)
	}
	return id, sess, nil
}

// SessionPrincipal returns the principal of a live session, or EUnauthorized.
func (s *Service) SessionPrincipal(ctx context.Context, id string) (*Principal, *easel.Session, error) {
	unauthorized := easel.Errorf(easel.EUnauthorized, "Your session has ended: sign in again.")
	if len(id) > maxSessionLength || !strings.HasPrefix(id, SessionPrefix) {
		return nil, nil, unauthorized
	}
	sess, err := s.catalog.SessionByHash(ctx, HashSession(id))
	switch {
	case easel.IsCode(err, easel.ENotFound):
		return nil, nil, unauthorized
	case err != nil:
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	if !sess.ExpiresAt.After(s.now()) {
		return nil, nil, unauthorized
	}
	return &Principal{UserID: sess.UserID, Session: true}, sess, nil
}

// EndSession deletes a session (sign-out). An unknown id is not an error.
func (s *Service) EndSession(ctx context.Context, id string) error {
	if len(id) > maxSessionLength || !strings.HasPrefix(id, SessionPrefix) {
		return nil
	}
	if err := s.catalog.DeleteSession(ctx, HashSession(id)); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}
