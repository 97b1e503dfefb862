package easel

import (
	"context"
	"time"
)

// Session is a signed-in person's browser session (single sign-on). The session id
// itself lives only in the person's cookie; the catalog keeps its SHA-256.
type Session struct {
	Hash      []byte    // SHA-256 of the session id
	UserID    string    // the Easel user the person signed in as
	CreatedAt time.Time // kept to the millisecond
	ExpiresAt time.Time // kept to the millisecond
}

// Identity is who an identity provider (single sign-on) says signed in.
type Identity struct {
	Issuer  string
	Subject string
	Email   string // a verified e-mail address, when the provider gave one
}

// SessionCatalog keeps sessions. A session whose ExpiresAt has passed (by the
// backend's clock) is absent for every method; backends delete it some time later.
type SessionCatalog interface {
	// CreateSession stores a new session. EConflict if its hash exists; EInvalid when
	// it lacks a hash or a user.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the live session with that hash. ENotFound if none.
	SessionByHash(ctx context.Context, hash []byte) (*Session, error)
	// DeleteSession deletes the session with that hash; none is not an error.
	DeleteSession(ctx context.Context, hash []byte) error
}
