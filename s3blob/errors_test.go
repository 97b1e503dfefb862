package s3blob_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/s3blob"
)

// failingStore returns a Store whose every call fails with an API error of the given
// code before anything is sent.
func failingStore(t *testing.T, code string) *s3blob.Store {
	t.Helper()
	cfg := awstest.FailingConfig(code)
	s, err := s3blob.Open(t.Context(), cfg, "s3://easel-images?prefix=images/", "", 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestErrorTranslation(t *testing.T) {
	tests := []struct {
		code    string
		want    string
		message string
		retry   bool
	}{
		{code: "NoSuchKey", want: easel.ENotFound},
		{code: "NotFound", want: easel.ENotFound},
		{code: "NoSuchBucket", want: easel.EInternal, message: "does not exist"},
		{code: "AccessDenied", want: easel.EInternal, message: "denied"},
		{code: "SlowDown", want: easel.ERateLimited, retry: true},
		{code: "ThrottlingException", want: easel.ERateLimited, retry: true},
		{code: "InternalError", want: easel.EInternal},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			s := failingStore(t, tc.code)
			ctx := t.Context()
			key := easel.ImageKey(easel.NewID(), "image/png")
			_, _, err := s.Get(ctx, key)
			if got := easel.ErrorCode(err); got != tc.want {
				t.Errorf("Get with %s = %v (code %q), want code %q", tc.code, err, got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), key) {
				t.Errorf("Get with %s = %v, want it to say %q and keep the key and the cause", tc.code, err, tc.message)
			}
			var e *easel.Error
			if tc.retry && (!errors.As(err, &e) || e.RetryAfter <= 0) {
				t.Errorf("Get with %s = %v, want a RetryAfter", tc.code, err)
			}
			if got := easel.ErrorCode(s.Put(ctx, key, []byte("x"), "image/png")); tc.want != easel.ENotFound && got != tc.want {
				t.Errorf("Put with %s: code %q, want %q", tc.code, got, tc.want)
			}
		})
	}
	// Deleting a missing object is fine, whatever way the server says it is missing.
	if err := failingStore(t, "NoSuchKey").Delete(t.Context(), "x.png"); err != nil {
		t.Errorf("Delete with NoSuchKey = %v, want nil", err)
	}
}
