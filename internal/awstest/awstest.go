// Package awstest connects tests to the loopback AWS emulators that scripts/services.sh
// starts (versitygw as S3, dynalite as DynamoDB, the repository's SQS and EventBridge
// wire fakes as one shared process) and to a Bedrock wire fake, through the
// AWS SDK's standard settings only, as the service itself is configured. Without the
// emulators a test is skipped, unless EASEL_TEST_REQUIRE_SERVICES=1 (the test script's
// setting), which makes it fail instead.
package awstest

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
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Region is the region every emulator is used in.
const Region = "us-east-1"

// Endpoint is one service's endpoint setting: the SDK variable and its URL.
type Endpoint struct {
	Var string // e.g. AWS_ENDPOINT_URL_S3
	URL string
}

func require(tb testing.TB, name, what string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("EASEL_TEST_REQUIRE_SERVICES") == "1" {
			tb.Fatalf("%s is not set and EASEL_TEST_REQUIRE_SERVICES=1: start %s with scripts/services.sh", name, what)
		}
		tb.Skipf("%s is not set: this test needs %s (source scripts/services.sh; easel_services_up)", name, what)
	}
	return v
}

// S3 returns the S3 emulator's endpoint, or skips the test.
func S3(tb testing.TB) Endpoint {
	tb.Helper()
	return Endpoint{"AWS_ENDPOINT_URL_S3", require(tb, "EASEL_TEST_S3_ENDPOINT", "versitygw")}
}

// DynamoDB returns the DynamoDB emulator's endpoint, or skips the test.
func DynamoDB(tb testing.TB) Endpoint {
	tb.Helper()
	return Endpoint{"AWS_ENDPOINT_URL_DYNAMODB", require(tb, "EASEL_TEST_DYNAMODB_ENDPOINT", "dynalite")}
}

// SQS returns the endpoint of the SQS fake process (sqsqueue/sqstest served by
// bedrock/bedrocktest/fakeserver), or skips the test. It takes requests signed with
// Credentials in Region.
func SQS(tb testing.TB) Endpoint {
	tb.Helper()
	return Endpoint{"AWS_ENDPOINT_URL_SQS", require(tb, "EASEL_TEST_SQS_ENDPOINT", "the AWS fakes process")}
}

// EventBridge returns the endpoint of the EventBridge fake process, or skips the test.
func EventBridge(tb testing.TB) Endpoint {
	tb.Helper()
	return Endpoint{"AWS_ENDPOINT_URL_EVENTBRIDGE", require(tb, "EASEL_TEST_EVENTBRIDGE_ENDPOINT", "the AWS fakes process")}
}

// BedrockRuntime returns the endpoint of a Bedrock fake at url.
func BedrockRuntime(url string) Endpoint {
	return Endpoint{"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url}
}

// Credentials returns the key pair every emulator accepts: the S3 emulator's (generated
// by scripts/services.sh for each run; dynalite accepts any), or a random pair.
func Credentials() (accessKey, secret string) {
	ak, sk := os.Getenv("EASEL_TEST_S3_ACCESS_KEY"), os.Getenv("EASEL_TEST_S3_SECRET_KEY")
	if ak == "" || sk == "" {
		return RandomHex(10), RandomHex(20)
	}
	return ak, sk
}

// Config points the SDK's standard settings at the endpoints (with t.Setenv: tests
// that call it must not be parallel) and loads the default configuration from them,
// as config.LoadDefaultConfig does in the service. No shared config file, profile or
// instance metadata is read.
func Config(tb testing.TB, endpoints ...Endpoint) aws.Config {
	tb.Helper()
	ak, sk := Credentials()
	noFile := filepath.Join(tb.TempDir(), "none")
	env := map[string]string{
		"AWS_ENDPOINT_URL":            "",
		"AWS_ACCESS_KEY_ID":           ak,
		"AWS_SECRET_ACCESS_KEY":       sk,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  Region,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             noFile,
		"AWS_SHARED_CREDENTIALS_FILE": noFile,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for _, e := range endpoints {
		env[e.Var] = e.URL
	}
	for k, v := range env {
		tb.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		tb.Fatalf("LoadDefaultConfig: %v", err)
	}
	return cfg
}

// RandomHex returns n random bytes as hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// S3Client returns a plain path-style S3 client, for checks behind an adapter's back.
func S3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// NewBucket creates a bucket with a random name and removes it, with its objects, when
// the test ends.
func NewBucket(tb testing.TB, cfg aws.Config) string {
	tb.Helper()
	return NewBucketNamed(tb, cfg, "easel-test-"+RandomHex(8))
}

// NewBucketNamed creates the bucket and removes it, with its objects, when the test
// ends.
func NewBucketNamed(tb testing.TB, cfg aws.Config, bucket string) string {
	tb.Helper()
	client := S3Client(cfg)
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

// TableName returns a fresh random table name whose table is deleted when the test ends
// (if it was created).
func TableName(tb testing.TB, cfg aws.Config) string {
	tb.Helper()
	table := "easel-test-" + RandomHex(8)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := dynamodb.NewFromConfig(cfg).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		var nf interface{ ErrorCode() string }
		if err != nil && !(errors.As(err, &nf) && nf.ErrorCode() == "ResourceNotFoundException") {
			tb.Errorf("DeleteTable(%q): %v", table, err)
		}
	})
	return table
}

// FailingConfig returns an SDK configuration whose every call fails, before anything is
// sent, with an API error of the given code: for testing how an adapter translates
// errors without a server.
func FailingConfig(code string) aws.Config {
	return aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
		APIOptions: []func(*middleware.Stack) error{func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("Fail",
				func(context.Context, middleware.InitializeInput, middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: code, Message: "injected"}
				}), middleware.Before)
		}},
	}
}
