package s3blob_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/easelhq/easel/s3blob"
)

// s3Config returns an SDK configuration for the S3 server named by EASEL_TEST_S3_ENDPOINT
// (versitygw, started by scripts/services.sh), loaded the way the service loads it:
// config.LoadDefaultConfig reading AWS_* variables. It skips the test when the server is
// not configured, unless EASEL_TEST_REQUIRE_SERVICES=1. Tests that call it must not be
// parallel (it sets environment variables); their subtests may be.
func s3Config(tb testing.TB, opts ...func(*config.LoadOptions) error) aws.Config {
	tb.Helper()
	endpoint := os.Getenv("EASEL_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("EASEL_TEST_REQUIRE_SERVICES") == "1" {
			tb.Fatal("EASEL_TEST_S3_ENDPOINT is not set and EASEL_TEST_REQUIRE_SERVICES=1: start versitygw with scripts/services.sh")
		}
		tb.Skip("EASEL_TEST_S3_ENDPOINT is not set: S3 tests need versitygw (source scripts/services.sh; easel_services_up)")
	}
	noFile := filepath.Join(tb.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3":         endpoint,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ACCESS_KEY_ID":           os.Getenv("EASEL_TEST_S3_ACCESS_KEY"),
		"AWS_SECRET_ACCESS_KEY":       os.Getenv("EASEL_TEST_S3_SECRET_KEY"),
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             noFile,
		"AWS_SHARED_CREDENTIALS_FILE": noFile,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		tb.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		tb.Fatalf("LoadDefaultConfig: %v", err)
	}
	return cfg
}

// rawClient returns a plain S3 client for checks behind the adapter's back.
func rawClient(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// newBucket creates a bucket with a random name and removes it, with its objects, when
// the test ends.
func newBucket(tb testing.TB, cfg aws.Config) string {
	tb.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	bucket := "easel-test-" + hex.EncodeToString(b[:])
	client := rawClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		tb.Fatalf("CreateBucket(%q): %v", bucket, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := emptyBucket(ctx, client, bucket); err != nil {
			tb.Errorf("empty bucket %q: %v", bucket, err)
			return
		}
		if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
			tb.Errorf("DeleteBucket(%q): %v", bucket, err)
		}
	})
	return bucket
}

func emptyBucket(ctx context.Context, client *s3.Client, bucket string) error {
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		var ids []types.ObjectIdentifier
		for _, obj := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: obj.Key})
		}
		if len(ids) == 0 {
			continue
		}
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			return errors.New(aws.ToString(out.Errors[0].Message))
		}
	}
	return nil
}

// openStore opens a Store over a fresh bucket with prefix "images/" and presigned URLs.
func openStore(tb testing.TB, cfg aws.Config) (*s3blob.Store, string) {
	tb.Helper()
	bucket := newBucket(tb, cfg)
	s, err := s3blob.Open(context.Background(), cfg, "s3://"+bucket+"?prefix=images/&use_path_style=true", "", 0)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s, bucket
}
