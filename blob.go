package easel

import (
	"context"
	"io"
	"time"
)

// BlobStore is the object storage port. Keys are made by ImageKey and ThumbKey; the
// adapter adds its own prefix. Implementations are safe for concurrent use.
type BlobStore interface {
	// Put stores data under key, replacing any object there. Objects are immutable in
	// practice: they are stored with a long, immutable cache lifetime.
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Get opens the object. The caller closes the reader. If the reader also
	// implements io.ReadSeeker, callers may use it for range requests.
	// Returns ENotFound when there is no such object.
	Get(ctx context.Context, key string) (io.ReadCloser, BlobInfo, error)
	// Delete removes the object. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object under the store's prefix, in no set order, until fn
	// returns an error (which List returns).
	List(ctx context.Context, fn func(BlobInfo) error) error
	// URL returns the URL at which clients fetch the object: absolute, or a path
	// starting with "/" on the server that answered the request (a store that Easel
	// serves itself), which the HTTP layer makes absolute on the request's host.
	URL(ctx context.Context, key string) (string, error)
	// Ping checks that the store is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Owner returns the id held by the store's ownership mark: the catalog whose images
	// the store keeps. The mark lives outside the key space (List never reports it, and
	// no key made by ImageKey or ThumbKey names it). ENotFound when there is no mark.
	Owner(ctx context.Context) (string, error)
	// ClaimOwner writes the ownership mark with id unless the store has one (first
	// writer wins, across processes), and returns the id the mark holds afterwards: id,
	// or the one written first.
	ClaimOwner(ctx context.Context, id string) (string, error)
}

// BlobInfo describes a stored object.
type BlobInfo struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
	ETag        string
}
