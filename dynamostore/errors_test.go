package dynamostore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/dynamostore"
	"github.com/easelhq/easel/internal/awstest"
)

// failingStore returns a Store whose every call fails with an API error of the given
// code before anything is sent.
func failingStore(t *testing.T, code string) *dynamostore.Store {
	t.Helper()
	cfg := awstest.FailingConfig(code)
	s, err := dynamostore.Open(t.Context(), cfg, "dynamodb://easel")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestErrorTranslation(t *testing.T) {
	tests := []struct {
		code     string
		want     string
		message  string
		retryGap bool
	}{
		{code: "ResourceNotFoundException", want: easel.EInternal, message: "easel migrate"},
		{code: "ProvisionedThroughputExceededException", want: easel.ERateLimited, retryGap: true},
		{code: "ThrottlingException", want: easel.ERateLimited, retryGap: true},
		{code: "RequestLimitExceeded", want: easel.ERateLimited, retryGap: true},
		{code: "InternalServerError", want: easel.EInternal},
		{code: "AccessDeniedException", want: easel.EInternal},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			s := failingStore(t, tc.code)
			ctx := t.Context()
			_, lookupErr := s.LookupImage(ctx, easel.NewID())
			_, _, listErr := s.ListImages(ctx, "user-a", easel.ListOptions{Limit: 10})
			_, usageErr := s.AddUsage(ctx, "user-a", "2026-11-27", 1, 10)
			_, beginErr := s.BeginIdempotent(ctx, &easel.IdempotencyRecord{
				UserID: "user-a", Key: "k", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour),
			})
			for name, err := range map[string]error{
				"Ping":            s.Ping(ctx),
				"LookupImage":     lookupErr,
				"ListImages":      listErr,
				"MarkReady":       s.MarkReady(ctx, "user-a", easel.NewID()),
				"AddUsage":        usageErr,
				"BeginIdempotent": beginErr,
			} {
				if got := easel.ErrorCode(err); got != tc.want {
					t.Errorf("%s with %s = %v (code %q), want code %q", name, tc.code, err, got, tc.want)
				}
				if !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), tc.code) {
					t.Errorf("%s with %s = %v, want it to say %q and keep the cause", name, tc.code, err, tc.message)
				}
				var e *easel.Error
				if tc.retryGap && (!errors.As(err, &e) || e.RetryAfter <= 0) {
					t.Errorf("%s with %s = %v, want a RetryAfter", name, tc.code, err)
				}
			}
		})
	}
}
