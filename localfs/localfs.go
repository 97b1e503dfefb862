// Package localfs is Easel's BlobStore over a local folder, for running on one machine
// (easel serves the folder itself under /images/).
//
// Objects are plain files named by their key, directly in the folder. Keys are checked
// before any file is touched: a key is a file name of 1 to 128 characters from
// [a-z0-9._-], not starting with a dot and without "..". Every file access goes through
// an os.Root opened on the folder, so no key, and no symbolic link planted in the
// folder, reaches a file outside it.
//
// Put is atomic: it writes a temporary file in the same folder (its name starts with a
// dot, so it is never a valid key and List skips it), syncs it, and renames it over the
// key, then syncs the folder. A crash leaves either the old object or the new one,
// never a partial one, and at worst a stray temporary file that List never reports.
//
// No metadata is stored beside an object: its content type follows from the key's
// extension (easel.ContentTypeOfKey), so Put refuses a content type that the key's
// extension does not imply. The ETag is derived from the file's size and modification
// time, which stay the same as long as the object does.
package localfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/easelhq/easel"
)

// MaxKeyLen is the longest key the store accepts.
const MaxKeyLen = 128

// tempPrefix starts the name of every file being written. Keys cannot start with a dot.
const tempPrefix = ".tmp-"

// defaultContentType is reported for keys whose extension implies no image type.
const defaultContentType = "application/octet-stream"

// Store is a BlobStore over a local folder. It is safe for concurrent use.
type Store struct {
	root    *os.Root
	dir     string
	baseURL string // ends with exactly one slash
}

var _ easel.BlobStore = (*Store)(nil)

// New returns a store of the objects in dir, creating the folder (0o755) if needed.
// URL(key) is baseURL followed by the key, with exactly one slash between them; baseURL
// is where clients fetch objects, such as "http://127.0.0.1:8080/images/", "/images/"
// or a CDN's base URL.
func New(dir, baseURL string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("localfs: empty folder name")
	}
	if _, err := url.Parse(baseURL); err != nil || baseURL == "" {
		return nil, fmt.Errorf("localfs: invalid base URL %q", baseURL)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("localfs: create folder: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("localfs: open folder: %w", err)
	}
	return &Store{root: root, dir: dir, baseURL: strings.TrimRight(baseURL, "/") + "/"}, nil
}

// Close releases the folder. The store must not be used afterwards.
func (s *Store) Close() error { return s.root.Close() }

// Dir returns the folder the store keeps its objects in.
func (s *Store) Dir() string { return s.dir }

// ValidKey reports whether key is a name the store accepts: 1 to MaxKeyLen characters
// from [a-z0-9._-], not starting with a dot and without "..".
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen || key[0] == '.' || strings.Contains(key, "..") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func contentTypeOf(key string) string {
	if ct := easel.ContentTypeOfKey(key); ct != "" {
		return ct
	}
	return defaultContentType
}

// Put stores data under key, atomically replacing any object there. EInvalid if the key
// is not valid or contentType is not the one its extension implies.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if !ValidKey(key) {
		return easel.Errorf(easel.EInvalid, "Invalid object key %q.", key)
	}
	if contentType != "" && contentType != contentTypeOf(key) {
		return easel.Errorf(easel.EInvalid, "Object key %q does not take content type %q.", key, contentType)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put object %q: %w", key, err)
	}
	tmp, err := s.writeTemp(data)
	if err != nil {
		return fmt.Errorf("put object %q: %w", key, err)
	}
	if err := s.root.Rename(tmp, key); err != nil {
		_ = s.root.Remove(tmp)
		return fmt.Errorf("put object %q: %w", key, err)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("put object %q: %w", key, err)
	}
	return nil
}

// writeTemp writes data to a new temporary file, synced to disk, and returns its name.
func (s *Store) writeTemp(data []byte) (string, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	name := tempPrefix + hex.EncodeToString(b[:])
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = s.root.Remove(name)
		return "", err
	}
	return name, nil
}

// syncDir makes a rename or removal in the folder durable.
func (s *Store) syncDir() error {
	d, err := s.root.Open(".")
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get opens the object. The reader is an *os.File, so it can serve range requests.
// ENotFound if the key is not valid or no regular file has that name.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, easel.BlobInfo, error) {
	if !ValidKey(key) {
		return nil, easel.BlobInfo{}, easel.Errorf(easel.ENotFound, "No object %q.", key)
	}
	if err := ctx.Err(); err != nil {
		return nil, easel.BlobInfo{}, fmt.Errorf("get object %q: %w", key, err)
	}
	// Lstat first: a symbolic link, even one within the folder, is not an object.
	if fi, err := s.root.Lstat(key); err != nil || !fi.Mode().IsRegular() {
		return nil, easel.BlobInfo{}, s.openError(key, err)
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, easel.BlobInfo{}, s.openError(key, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, easel.BlobInfo{}, s.openError(key, err)
	}
	return f, infoOf(key, fi), nil
}

func (s *Store) openError(key string, err error) error {
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return easel.Errorf(easel.ENotFound, "No object %q.", key)
	}
	return fmt.Errorf("get object %q: %w", key, err)
}

func infoOf(key string, fi fs.FileInfo) easel.BlobInfo {
	mod := fi.ModTime()
	return easel.BlobInfo{
		Key:         key,
		Size:        fi.Size(),
		ContentType: contentTypeOf(key),
		ModTime:     mod.UTC(),
		ETag:        fmt.Sprintf(`"%x-%x"`, fi.Size(), mod.UnixNano()),
	}
}

// Delete removes the object; a missing object is not an error. EInvalid if the key is
// not valid.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return easel.Errorf(easel.EInvalid, "Invalid object key %q.", key)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete object %q: %w", key, err)
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete object %q: %w", key, err)
	}
	return nil
}

// List calls fn for every object in the folder: each regular file whose name is a valid
// key. Temporary files and anything else are skipped.
func (s *Store) List(ctx context.Context, fn func(easel.BlobInfo) error) error {
	d, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		entries, err := d.ReadDir(256)
		for _, e := range entries {
			if !e.Type().IsRegular() || !ValidKey(e.Name()) {
				continue
			}
			fi, ierr := e.Info()
			if errors.Is(ierr, fs.ErrNotExist) {
				continue // deleted since the folder was read
			}
			if ierr != nil {
				return fmt.Errorf("list objects: %w", ierr)
			}
			if err := fn(infoOf(e.Name(), fi)); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
	}
}

// URL returns the base URL followed by the key. EInvalid if the key is not valid.
func (s *Store) URL(_ context.Context, key string) (string, error) {
	if !ValidKey(key) {
		return "", easel.Errorf(easel.EInvalid, "Invalid object key %q.", key)
	}
	return s.baseURL + key, nil
}

// Ping checks that the folder the store opened is still the one at its path: a folder
// removed or replaced while the store is open would take writes nobody can read.
func (s *Store) Ping(context.Context) error {
	open, err := s.root.Stat(".")
	if err != nil {
		return fmt.Errorf("ping folder: %w", err)
	}
	named, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("ping folder: %w", err)
	}
	if !os.SameFile(open, named) {
		return fmt.Errorf("ping folder: %s was removed or replaced", s.dir)
	}
	return nil
}

// ownerFile is the ownership mark's file name. It starts with a dot, so it is never a
// valid key: List skips it and /images/ never serves it.
const ownerFile = ".easel-owner"

// maxOwnerLen bounds what Owner reads of the mark.
const maxOwnerLen = 256

// Owner returns the id in the folder's ownership mark. ENotFound when there is none.
func (s *Store) Owner(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("read ownership mark: %w", err)
	}
	f, err := s.root.Open(ownerFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", easel.Errorf(easel.ENotFound, "The folder %s has no ownership mark.", s.dir)
	}
	if err != nil {
		return "", fmt.Errorf("read ownership mark: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxOwnerLen))
	if err != nil {
		return "", fmt.Errorf("read ownership mark: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ClaimOwner writes the ownership mark with id unless there is one, atomically: the
// mark is written to a temporary file, then hard-linked to its name, which fails when
// another process linked its mark first.
func (s *Store) ClaimOwner(ctx context.Context, id string) (string, error) {
	if id == "" || len(id) > maxOwnerLen-1 || strings.ContainsAny(id, " \t\r\n") {
		return "", easel.Errorf(easel.EInvalid, "Invalid owner id %q.", id)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("write ownership mark: %w", err)
	}
	tmp, err := s.writeTemp([]byte(id + "\n"))
	if err != nil {
		return "", fmt.Errorf("write ownership mark: %w", err)
	}
	defer s.root.Remove(tmp)
	err = s.root.Link(tmp, ownerFile)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("write ownership mark: %w", err)
	}
	if err == nil {
		if err := s.syncDir(); err != nil {
			return "", fmt.Errorf("write ownership mark: %w", err)
		}
	}
	return s.Owner(ctx)
}
