package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/signedurl"
)

// privateFlags are the settings of private images (signed URLs that expire).
type privateFlags struct {
	enabled   bool
	expiry    time.Duration
	keyPairID string // CloudFront public key id
	keySecret string // Secrets Manager secret holding its private key
}

func (p *privateFlags) bind(f *envFlags) {
	f.Bool(&p.enabled, "private-images", "EASEL_PRIVATE_IMAGES", false, "sign every image and thumbnail URL so that it expires (see docs/access.md): HMAC-signed on this server's /images/, CloudFront-signed behind --public-url on S3, presigned on S3 without one")
	f.Duration(&p.expiry, "private-image-expiry", "EASEL_PRIVATE_IMAGE_EXPIRY", time.Hour, "lifetime of a private image URL (must be positive: at least 1s); a URL is valid for between three quarters of it and all of it")
	f.String(&p.keyPairID, "cloudfront-key-pair-id", "EASEL_CLOUDFRONT_KEY_PAIR_ID", "", "id of the CloudFront public key (in the distribution's trusted key group) that private image URLs are signed for; with --private-images, --blob s3://... and --public-url")
	f.String(&p.keySecret, "cloudfront-private-key-secret", "EASEL_CLOUDFRONT_PRIVATE_KEY_SECRET", "", "ARN or name of the Secrets Manager secret whose value is that key's RSA private key in PEM, read once at start")
}

// check refuses a too short expiry, and private images that could not be signed: a
// public URL in front of S3 (a CDN) with no CloudFront key.
func (p *privateFlags) check(blobURL, publicURL string) error {
	if p.expiry < signedurl.MinExpiry {
		return usageError{fmt.Errorf("--private-image-expiry: %s is shorter than %s", p.expiry, signedurl.MinExpiry)}
	}
	if (p.keyPairID == "") != (p.keySecret == "") {
		return usageError{fmt.Errorf("--cloudfront-key-pair-id and --cloudfront-private-key-secret go together: give both or neither")}
	}
	behindCDN := strings.HasPrefix(blobURL, "s3://") && publicURL != ""
	if p.keyPairID != "" && !behindCDN {
		return usageError{fmt.Errorf("--cloudfront-key-pair-id: CloudFront signing needs --blob s3://... behind --public-url (the distribution)")}
	}
	if p.enabled && behindCDN && p.keyPairID == "" {
		return usageError{fmt.Errorf("--private-images with --blob %s behind --public-url %s: give --cloudfront-key-pair-id and --cloudfront-private-key-secret", blobURL, publicURL)}
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
//
// Behind CloudFront (S3 and a public URL) URLs are CloudFront signed URLs; the private
// key is read once from Secrets Manager, so a rotated key takes effect on the next start.
func privateImages(ctx context.Context, p *privateFlags, blobs easel.BlobStore, local bool, cat easel.Catalog, l *awsLoader) (easel.BlobStore, imageAccess, error) {
	if !p.enabled {
		return blobs, nil, nil
	}
	if p.keyPairID != "" {
		cfg, err := l.load(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("--cloudfront-private-key-secret: %w", err)
		}
		key, err := signedurl.LoadPrivateKey(ctx, secretsmanager.NewFromConfig(cfg), p.keySecret)
		if err != nil {
			return nil, nil, err
		}
		cf, err := signedurl.NewCloudFront(p.keyPairID, key)
		if err != nil {
			return nil, nil, err
		}
		st, err := signedurl.New(blobs, cf, p.expiry)
		return st, nil, err
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
