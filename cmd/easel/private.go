package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/signedurl"
)

// privateFlags are the settings of private images (signed URLs that expire).
type privateFlags struct {
	enabled bool
	expiry  time.Duration
}

func (p *privateFlags) bind(f *envFlags) {
	f.Bool(&p.enabled, "private-images", "EASEL_PRIVATE_IMAGES", false, "sign every image and thumbnail URL so that it expires (see docs/access.md): HMAC-signed on this server's /images/, CloudFront-signed behind --public-url on S3, presigned on S3 without one")
	f.Duration(&p.expiry, "private-image-expiry", "EASEL_PRIVATE_IMAGE_EXPIRY", time.Hour, "lifetime of a private image URL, at least 1s; a URL is valid for between three quarters of it and all of it")
}

// check refuses a too short expiry, and private images that could not be signed: a
// public URL in front of S3 (a CDN) with no CloudFront key.
func (p *privateFlags) check(blobURL, publicURL string) error {
	if p.expiry < signedurl.MinExpiry {
		return usageError{fmt.Errorf("--private-image-expiry: %s is shorter than %s", p.expiry, signedurl.MinExpiry)}
	}
	if p.enabled && strings.HasPrefix(blobURL, "s3://") && publicURL != "" {
		return usageError{fmt.Errorf("--private-images with --blob %s behind --public-url %s: CloudFront signing is not configured", blobURL, publicURL)}
	}
	return nil
}

// presignExpiry is the lifetime of presigned S3 URLs: in private mode, no longer than
// a private URL's.
func (p *privateFlags) presignExpiry(presign time.Duration) time.Duration {
	if p.enabled {
		return min(presign, p.expiry)
	}
	return presign
}

// imageAccess checks the signature of a request for /images/{key}.
type imageAccess func(key string, query url.Values) (time.Time, error)

// privateImages wraps the blob store so that its URLs are signed, and returns the check
// of the local /images/ route (nil when Easel does not serve images itself). Without
// --private-images it returns blobs as they are.
//
// The HMAC key lives in the catalog (a setting, first writer wins): every instance
// that shares the catalog signs and checks with the same key, a restart keeps the URLs
// it gave valid, and there is no extra file to keep (the page's cursor secret lives
// there too).
func privateImages(ctx context.Context, p *privateFlags, blobs easel.BlobStore, local bool, cat easel.Catalog) (easel.BlobStore, imageAccess, error) {
	if !p.enabled {
		return blobs, nil, nil
	}
	if !local {
		return blobs, nil, nil // S3 without a public URL: presigned URLs already expire (presignExpiry)
	}
	key, err := signedurl.LoadKey(ctx, cat)
	if err != nil {
		return nil, nil, err
	}
	h, err := signedurl.NewHMAC(key)
	if err != nil {
		return nil, nil, err
	}
	st, err := signedurl.New(blobs, h, p.expiry)
	if err != nil {
		return nil, nil, err
	}
	return st, func(key string, q url.Values) (time.Time, error) { return h.Verify(key, q, time.Now()) }, nil
}
