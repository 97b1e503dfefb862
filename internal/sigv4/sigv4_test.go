package sigv4_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/easelhq/easel/internal/sigv4"
)

// TestVerify signs requests with the SDK's signer, then tampers with them.
func TestVerify(t *testing.T) {
	now := time.Now()
	v := &sigv4.Verifier{AccessKey: "AKIDFAKE", Secret: "fake-secret", Region: "us-east-1", Service: "sqs",
		Now: func() time.Time { return now }}
	var got *sigv4.Refusal
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = v.Verify(r, body)
	}))
	defer srv.Close()
	good := aws.Credentials{AccessKeyID: "AKIDFAKE", SecretAccessKey: "fake-secret"}
	type req struct {
		path, signedBody, sentBody string
		creds                      aws.Credentials
		region, service            string
		at                         time.Time
		header                     [2]string // set after signing
	}
	base := req{path: "/", signedBody: `{"QueueName":"a"}`, sentBody: `{"QueueName":"a"}`, creds: good,
		region: "us-east-1", service: "sqs", at: now}
	send := func(tt req) *sigv4.Refusal {
		t.Helper()
		r, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(tt.sentBody))
		r.Header.Set("Content-Type", "application/x-amz-json-1.0")
		r.Header.Set("X-Amz-Target", "AmazonSQS.CreateQueue")
		sum := sha256.Sum256([]byte(tt.signedBody))
		if err := v4.NewSigner().SignHTTP(context.Background(), tt.creds, r, hex.EncodeToString(sum[:]), tt.service, tt.region, tt.at); err != nil {
			t.Fatal(err)
		}
		if tt.header[0] != "" {
			r.Header.Set(tt.header[0], tt.header[1])
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return got
	}
	for _, tt := range []struct {
		name string
		edit func(*req)
		want string // "" for accepted; else a substring of the refusal
	}{
		{"signed", func(*req) {}, ""},
		{"path and query", func(r *req) { r.path = "/123456789012/a%20b?x=1&a=b%2Fc" }, ""},
		{"tampered body", func(r *req) { r.sentBody = `{"QueueName":"b"}` }, "signature we calculated does not match"},
		{"tampered signed header", func(r *req) { r.header = [2]string{"X-Amz-Target", "AmazonSQS.DeleteQueue"} }, "signature we calculated does not match"},
		{"wrong secret", func(r *req) { r.creds.SecretAccessKey = "x" }, "signature we calculated does not match"},
		{"unknown key", func(r *req) { r.creds.AccessKeyID = "OTHER" }, "UnrecognizedClientException"},
		{"wrong region", func(r *req) { r.region = "eu-central-1" }, "valid region"},
		{"wrong service", func(r *req) { r.service = "events" }, "correct service: 'sqs'"},
		{"clock skew", func(r *req) { r.at = now.Add(-10 * time.Minute) }, "Signature expired"},
		{"no authorization", func(r *req) { r.header = [2]string{"Authorization", ""} }, "MissingAuthenticationTokenException"},
		{"other scheme", func(r *req) { r.header = [2]string{"Authorization", "Basic eDp5"} }, "AWS4-HMAC-SHA256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.edit(&r)
			bad := send(r)
			switch {
			case tt.want == "" && bad != nil:
				t.Errorf("Verify = %v, want accepted", bad)
			case tt.want != "" && (bad == nil || !strings.Contains(bad.Error(), tt.want)):
				t.Errorf("Verify = %v, want a refusal with %q", bad, tt.want)
			}
		})
	}
}
