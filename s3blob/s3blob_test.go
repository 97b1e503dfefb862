package s3blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/s3blob"
	"github.com/easelhq/easel/storetest"
)

func TestConformance(t *testing.T) {
	cfg := s3Config(t)
	storetest.RunBlobStoreTests(t, func(t *testing.T) easel.BlobStore {
		s, _ := openStore(t, cfg)
		return s
	})
}

func TestPutStoresHeaders(t *testing.T) {
	cfg := s3Config(t)
	s, bucket := openStore(t, cfg)
	ctx := t.Context()
	key := easel.ImageKey(easel.NewID(), "image/jpeg")
	if err := s.Put(ctx, key, []byte("not really a jpeg"), "image/jpeg"); err != nil {
		t.Fatalf("Put(%q) = %v", key, err)
	}
	head, err := awstest.S3Client(cfg).HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(bucket),
		Key:          aws.String("images/" + key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatalf("HeadObject(images/%s) = %v", key, err)
	}
	if got := aws.ToString(head.ContentType); got != "image/jpeg" {
		t.Errorf("stored Content-Type = %q, want image/jpeg", got)
	}
	if got := aws.ToString(head.CacheControl); got != s3blob.CacheControl {
		t.Errorf("stored Cache-Control = %q, want %q", got, s3blob.CacheControl)
	}
	if head.ChecksumCRC32 == nil {
		t.Errorf("stored object has no CRC32 checksum")
	}
}

// checksumSpy records the CRC32 checksum header of each PutObject request and, when
// corrupt is set, replaces it with a wrong one before the request is signed, so the
// server sees a well-signed request whose body does not match its checksum.
type checksumSpy struct {
	mu      sync.Mutex
	sent    []string
	corrupt bool
}

func (c *checksumSpy) apiOption(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("ChecksumSpy",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if middleware.GetOperationName(ctx) == "PutObject" {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					c.mu.Lock()
					c.sent = append(c.sent, req.Header.Get("X-Amz-Checksum-Crc32"))
					if c.corrupt {
						req.Header.Set("X-Amz-Checksum-Crc32", "AAAAAA==")
					}
					c.mu.Unlock()
				}
			}
			return next.HandleFinalize(ctx, in)
		}), "Signing", middleware.Before)
}

func TestPutChecksum(t *testing.T) {
	spy := &checksumSpy{}
	cfg := s3Config(t, spy.apiOption)
	s, _ := openStore(t, cfg)
	ctx := t.Context()

	key := easel.ImageKey(easel.NewID(), "image/png")
	if err := s.Put(ctx, key, []byte("checked"), "image/png"); err != nil {
		t.Fatalf("Put(%q) = %v", key, err)
	}
	if len(spy.sent) != 1 || spy.sent[0] == "" {
		t.Fatalf("PutObject CRC32 headers sent = %q, want one", spy.sent)
	}

	spy.corrupt = true
	bad := easel.ImageKey(easel.NewID(), "image/png")
	err := s.Put(ctx, bad, []byte("corrupted on the way"), "image/png")
	if err == nil {
		t.Fatalf("Put(%q) with a wrong checksum = nil, want the server to refuse it", bad)
	}
	if !strings.Contains(err.Error(), "BadDigest") {
		t.Errorf("Put(%q) with a wrong checksum = %v, want a BadDigest refusal", bad, err)
	}
	if _, _, err := s.Get(ctx, bad); !easel.IsCode(err, easel.ENotFound) {
		t.Errorf("Get(%q) after a refused Put = %v, want %s", bad, err, easel.ENotFound)
	}
}

func TestPresignedURL(t *testing.T) {
	cfg := s3Config(t)
	s, _ := openStore(t, cfg)
	ctx := t.Context()
	key := easel.ImageKey(easel.NewID(), "image/webp")
	want := make([]byte, 10000)
	_, _ = rand.Read(want)
	if err := s.Put(ctx, key, want, "image/webp"); err != nil {
		t.Fatalf("Put(%q) = %v", key, err)
	}
	u, err := s.URL(ctx, key)
	if err != nil {
		t.Fatalf("URL(%q) = %v", key, err)
	}
	if !strings.Contains(u, "X-Amz-Expires=3600") {
		t.Errorf("URL(%q) = %q, want a presigned URL valid for 3600 s", key, u)
	}
	status, got, header := fetch(t, u)
	if status != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET presigned URL = %d, %d bytes; want 200 and the %d bytes put", status, len(got), len(want))
	}
	if ct := header.Get("Content-Type"); ct != "image/webp" {
		t.Errorf("GET presigned URL Content-Type = %q, want image/webp", ct)
	}
	if cc := header.Get("Cache-Control"); cc != s3blob.CacheControl {
		t.Errorf("GET presigned URL Cache-Control = %q, want %q", cc, s3blob.CacheControl)
	}

	tampered := strings.Replace(u, key, easel.ImageKey(easel.NewID(), "image/webp"), 1)
	if status, _, _ := fetch(t, tampered); status != http.StatusForbidden {
		t.Errorf("GET presigned URL for another key = %d, want 403", status)
	}
}

func TestPresignedURLExpires(t *testing.T) {
	cfg := s3Config(t)
	bucket := awstest.NewBucket(t, cfg)
	s, err := s3blob.Open(t.Context(), cfg, "s3://"+bucket+"?use_path_style=true", "", time.Second)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	key := easel.ImageKey(easel.NewID(), "image/png")
	if err := s.Put(t.Context(), key, []byte("short-lived"), "image/png"); err != nil {
		t.Fatalf("Put(%q) = %v", key, err)
	}
	u, err := s.URL(t.Context(), key)
	if err != nil {
		t.Fatalf("URL(%q) = %v", key, err)
	}
	time.Sleep(2100 * time.Millisecond)
	if status, _, _ := fetch(t, u); status != http.StatusForbidden {
		t.Errorf("GET presigned URL after its expiry = %d, want 403", status)
	}
}

func fetch(t *testing.T, u string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp.StatusCode, body, resp.Header
}

func TestErrors(t *testing.T) {
	cfg := s3Config(t)
	ctx := t.Context()
	missing, err := s3blob.Open(ctx, cfg, "s3://easel-no-such-bucket?use_path_style=true", "", 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	bucket := awstest.NewBucket(t, cfg)
	badCfg := cfg.Copy()
	badCfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		c, err := cfg.Credentials.Retrieve(ctx)
		c.SecretAccessKey += "x"
		return c, err
	}))
	badCreds, err := s3blob.Open(ctx, badCfg, "s3://"+bucket+"?use_path_style=true", "", 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	key := easel.ImageKey(easel.NewID(), "image/png")
	tests := []struct {
		name    string
		err     error
		code    string
		message string
	}{
		{"Ping missing bucket", missing.Ping(ctx), easel.EInternal, "does not exist"},
		{"Put missing bucket", missing.Put(ctx, key, []byte("x"), "image/png"), easel.EInternal, "does not exist"},
		{"Ping bad secret", badCreds.Ping(ctx), easel.EInternal, ""},
		{"Put bad secret", badCreds.Put(ctx, key, []byte("x"), "image/png"), easel.EInternal, "denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := easel.ErrorCode(tc.err); got != tc.code {
				t.Errorf("error = %v, code %q; want code %q", tc.err, got, tc.code)
			}
			if !strings.Contains(fmt.Sprint(tc.err), tc.message) {
				t.Errorf("error = %v, want it to say %q", tc.err, tc.message)
			}
		})
	}
}
