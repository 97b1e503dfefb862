// Package s3blob is the BlobStore adapter over Amazon S3 (AWS SDK for Go v2). Endpoint,
// region and credentials come from the SDK's standard settings (AWS_REGION,
// AWS_ENDPOINT_URL_S3, the default credential chain); the s3:// URL names only the
// bucket, the key prefix and the addressing style.
package s3blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/easelhq/easel"
)

// CacheControl is stored with every object: keys are never reused, so edges and
// browsers may keep an object for a year without asking again.
const CacheControl = "public, max-age=31536000, immutable"

// DefaultPresignExpiry is how long a presigned GET URL stays valid when no public base
// URL is configured and Open is given no expiry.
const DefaultPresignExpiry = time.Hour

// maxPresignExpiry is SigV4's limit for presigned URLs.
const maxPresignExpiry = 7 * 24 * time.Hour

// Store is a BlobStore over one S3 bucket and key prefix.
type Store struct {
	client     *s3.Client
	presign    *s3.PresignClient
	bucket     string
	prefix     string
	publicBase string // ends with "/" when set
	expiry     time.Duration
}

var _ easel.BlobStore = (*Store)(nil)

// Open returns a Store for rawURL (s3://BUCKET?prefix=images/&region=...&use_path_style=true)
// using cfg, typically from config.LoadDefaultConfig. With publicBaseURL set (the CDN
// address that serves the bucket's prefix, such as https://dxxxx.cloudfront.net/images/),
// URL answers publicBaseURL + key; otherwise it answers a presigned GET URL valid for
// presignExpiry (DefaultPresignExpiry when zero). Open makes no request; Ping does.
func Open(ctx context.Context, cfg aws.Config, rawURL, publicBaseURL string, presignExpiry time.Duration) (*Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if loc.Region == "" && cfg.Region == "" {
		return nil, fmt.Errorf("blob URL %q: no AWS region: set AWS_REGION or add ?region=", rawURL)
	}
	if presignExpiry == 0 {
		presignExpiry = DefaultPresignExpiry
	}
	if presignExpiry < time.Second || presignExpiry > maxPresignExpiry {
		return nil, fmt.Errorf("presign expiry %v: want between 1s and %v", presignExpiry, maxPresignExpiry)
	}
	base, err := checkPublicBase(publicBaseURL)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if loc.Region != "" {
			o.Region = loc.Region
		}
		o.UsePathStyle = loc.UsePathStyle
	})
	return &Store{
		client:     client,
		presign:    s3.NewPresignClient(client),
		bucket:     loc.Bucket,
		prefix:     loc.Prefix,
		publicBase: base,
		expiry:     presignExpiry,
	}, nil
}

func checkPublicBase(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("public base URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("public base URL %q: want http(s)://host/path/", raw)
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	return raw, nil
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Put stores data under key with its content type, an immutable cache lifetime and a
// CRC32 checksum that S3 verifies before it stores the object.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if key == "" {
		return fmt.Errorf("put object: empty key")
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
		// A bytes.Reader is seekable: over plain http the SDK refuses a body it
		// cannot rewind to compute the checksum and the payload hash.
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ContentType:       aws.String(contentType),
		CacheControl:      aws.String(CacheControl),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return s.translate(err, "put object", key)
	}
	return nil
}

// Get opens the object. ENotFound when there is none.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, easel.BlobInfo, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		return nil, easel.BlobInfo{}, s.translate(err, "get object", key)
	}
	info := easel.BlobInfo{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
		ETag:        aws.ToString(out.ETag),
	}
	return out.Body, info, nil
}

// Delete removes the object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		if err := s.translate(err, "delete object", key); !easel.IsCode(err, easel.ENotFound) {
			return err
		}
	}
	return nil
}

// List calls fn for every object under the prefix, with keys relative to it, except
// the ownership mark. S3 lists no content type, so ContentType is the one the key's
// extension implies.
func (s *Store) List(ctx context.Context, fn func(easel.BlobInfo) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)}
	if s.prefix != "" {
		in.Prefix = aws.String(s.prefix)
	}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s.translate(err, "list objects", s.prefix)
		}
		for _, obj := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(obj.Key), s.prefix)
			if key == ownerKey {
				continue // the ownership mark is not an object
			}
			err := fn(easel.BlobInfo{
				Key:         key,
				Size:        aws.ToInt64(obj.Size),
				ContentType: easel.ContentTypeOfKey(key),
				ModTime:     aws.ToTime(obj.LastModified),
				ETag:        aws.ToString(obj.ETag),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// URL returns the public (CDN) URL of key when a public base is configured, otherwise a
// presigned GET URL. A presigned URL made with temporary credentials (an instance role)
// stops working when those credentials expire, even before the configured expiry.
func (s *Store) URL(ctx context.Context, key string) (string, error) {
	if s.publicBase != "" {
		return s.publicBase + escapeKey(key), nil
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	}, s3.WithPresignExpires(s.expiry))
	if err != nil {
		return "", s.translate(err, "presign get object", key)
	}
	return req.URL, nil
}

// escapeKey escapes each path segment of key for use in a URL path.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Ping checks that the bucket exists and the credentials may use it.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		err = s.translate(err, "head bucket", "")
		if easel.IsCode(err, easel.ENotFound) {
			// HeadBucket answers a bare 404 for a missing bucket.
			return easel.WrapError(easel.EInternal, err, "S3 bucket %q does not exist", s.bucket)
		}
		return err
	}
	return nil
}

// ownerKey names the ownership mark under the prefix. It starts with a dot, so no key
// made by easel.ImageKey or easel.ThumbKey is ever the same.
const ownerKey = ".easel-owner"

// maxOwnerLen bounds what Owner reads of the mark.
const maxOwnerLen = 256

// Owner returns the id in the ownership mark under the prefix. ENotFound when none.
func (s *Store) Owner(ctx context.Context) (string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + ownerKey),
	})
	if err != nil {
		return "", s.translate(err, "get ownership mark", ownerKey)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, maxOwnerLen))
	if err != nil {
		return "", fmt.Errorf("read ownership mark in bucket %q: %w", s.bucket, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ClaimOwner writes the ownership mark with id unless there is one: the PUT carries
// If-None-Match: *, so S3 refuses it (412) when another process wrote its mark first.
func (s *Store) ClaimOwner(ctx context.Context, id string) (string, error) {
	if id == "" || len(id) > maxOwnerLen-1 || strings.ContainsAny(id, " \t\r\n") {
		return "", easel.Errorf(easel.EInvalid, "Invalid owner id %q.", id)
	}
	data := []byte(id + "\n")
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(s.prefix + ownerKey),
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ContentType:       aws.String("text/plain; charset=utf-8"),
		CacheControl:      aws.String("no-store"),
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil && !preconditionFailed(err) {
		return "", s.translate(err, "put ownership mark", ownerKey)
	}
	return s.Owner(ctx)
}
