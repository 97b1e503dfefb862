package s3blob_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/s3blob"
	"github.com/easelhq/easel/storetest"
)

// TestConformanceAccessPointAlias runs the blob store conformance suite against
// versitygw through a bucket named like an access point alias (NAME-<id>-s3alias): an
// alias is used exactly as a bucket name, so what S3 does with one is what it does with
// a bucket. (Real S3 reserves the -s3alias suffix for aliases; versitygw lets a bucket
// have it, which is what makes the alias form testable over the wire.)
func TestConformanceAccessPointAlias(t *testing.T) {
	cfg := s3Config(t)
	storetest.RunBlobStoreTests(t, func(t *testing.T) easel.BlobStore {
		alias := awstest.NewBucketNamed(t, cfg, "easel-ap-"+awstest.RandomHex(12)+"-s3alias")
		s, err := s3blob.Open(context.Background(), cfg, "s3://"+alias+"?prefix=images/&use_path_style=true", "", 0)
		if err != nil {
			t.Fatalf("Open(alias): %v", err)
		}
		return s
	})
}

// recorder is an HTTP client that answers every request with 200 and records it: the
// SDK's requests for an access point ARN go to the access point's own AWS endpoint,
// which no loopback server can stand for (the host name is derived from the ARN).
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{"Etag": {`"x"`}}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// TestAccessPointARN: with an access point ARN the SDK addresses the access point's
// endpoint in the ARN's region, signs for s3 there, and keys keep their prefix; presigned
// URLs point at the access point too. Checked on the requests the SDK makes (recorded,
// nothing leaves the process): versitygw has no access points, and the SDK builds the
// host name from the ARN even with a custom endpoint, so the ARN form cannot be tested
// over the wire here.
func TestAccessPointARN(t *testing.T) {
	rec := &recorder{}
	cfg := aws.Config{
		Region:      "us-east-1", // the ARN's region wins
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLEFAKE", awstest.RandomHex(20), ""),
		HTTPClient:  rec,
	}
	const arn = "arn:aws:s3:eu-west-1:123456789012:accesspoint/easel-images"
	st, err := s3blob.Open(context.Background(), cfg, "s3://"+arn+"?prefix=images/", "", 0)
	if err != nil {
		t.Fatalf("Open(%s): %v", arn, err)
	}
	key := easel.ImageKey(easel.NewID(), "image/png")
	if err := st.Put(context.Background(), key, []byte("png"), "image/png"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := st.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	const host = "easel-images-123456789012.s3-accesspoint.eu-west-1.amazonaws.com"
	if len(rec.reqs) != 2 {
		t.Fatalf("requests = %d, want 2", len(rec.reqs))
	}
	for _, r := range rec.reqs {
		if r.URL.Host != host || r.URL.Path != "/images/"+key {
			t.Errorf("%s %s, want https://%s/images/%s", r.Method, r.URL, host, key)
		}
		if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "/eu-west-1/s3/aws4_request") {
			t.Errorf("Authorization = %q, want it signed for s3 in eu-west-1", auth)
		}
	}
	u, err := st.URL(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	if pu.Host != host || pu.Path != "/images/"+key || pu.Query().Get("X-Amz-Signature") == "" {
		t.Errorf("presigned URL %s, want one on %s", u, host)
	}
}
