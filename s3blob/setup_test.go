package s3blob_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"

	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/s3blob"
)

// s3Config returns an SDK configuration for versitygw (started by scripts/services.sh),
// loaded the way the service loads it, with extra middleware. It skips the test
// without the server, unless EASEL_TEST_REQUIRE_SERVICES=1. Tests that call it must not
// be parallel (it sets environment variables).
func s3Config(tb testing.TB, apiOptions ...func(*middleware.Stack) error) aws.Config {
	tb.Helper()
	cfg := awstest.Config(tb, awstest.S3(tb))
	cfg.APIOptions = append(cfg.APIOptions, apiOptions...)
	return cfg
}

// openStore opens a Store over a fresh bucket with prefix "images/" and presigned URLs.
func openStore(tb testing.TB, cfg aws.Config) (*s3blob.Store, string) {
	tb.Helper()
	bucket := awstest.NewBucket(tb, cfg)
	s, err := s3blob.Open(context.Background(), cfg, "s3://"+bucket+"?prefix=images/&use_path_style=true", "", 0)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s, bucket
}
