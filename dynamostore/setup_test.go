package dynamostore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/easelhq/easel/dynamostore"
)

// dynamoConfig returns an SDK configuration for the DynamoDB emulator named by
// EASEL_TEST_DYNAMODB_ENDPOINT (dynalite, started by scripts/services.sh), loaded the way
// the service loads it: config.LoadDefaultConfig reading AWS_* variables, here with
// credentials made up for the test. It skips the test when the emulator is not
// configured, unless EASEL_TEST_REQUIRE_SERVICES=1. Tests that call it must not be
// parallel (it sets environment variables); their subtests may be.
func dynamoConfig(tb testing.TB, opts ...func(*config.LoadOptions) error) aws.Config {
	tb.Helper()
	endpoint := os.Getenv("EASEL_TEST_DYNAMODB_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("EASEL_TEST_REQUIRE_SERVICES") == "1" {
			tb.Fatal("EASEL_TEST_DYNAMODB_ENDPOINT is not set and EASEL_TEST_REQUIRE_SERVICES=1: start dynalite with scripts/services.sh")
		}
		tb.Skip("EASEL_TEST_DYNAMODB_ENDPOINT is not set: DynamoDB tests need dynalite (source scripts/services.sh; easel_services_up)")
	}
	noFile := filepath.Join(tb.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":   endpoint,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ACCESS_KEY_ID":           randomHex(10),
		"AWS_SECRET_ACCESS_KEY":       randomHex(20),
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tableName returns a fresh random table name.
func tableName() string { return "easel-test-" + randomHex(8) }

// openStore opens a Store on a new table, migrated, and deletes the table when the test
// ends.
func openStore(tb testing.TB, cfg aws.Config) *dynamostore.Store {
	tb.Helper()
	s, err := dynamostore.Open(context.Background(), cfg, "dynamodb://"+tableName())
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	dropTable(tb, cfg, s.Table())
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// dropTable deletes the table when the test ends.
func dropTable(tb testing.TB, cfg aws.Config, table string) {
	tb.Helper()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := dynamodb.NewFromConfig(cfg).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		if err != nil {
			tb.Errorf("DeleteTable(%q): %v", table, err)
		}
	})
}
