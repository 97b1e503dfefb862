package dynamostore_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"

	"github.com/easelhq/easel/dynamostore"
	"github.com/easelhq/easel/internal/awstest"
)

// dynamoConfig returns an SDK configuration for dynalite (started by
// scripts/services.sh), loaded the way the service loads it, with extra middleware.
// It skips the test without the emulator, unless EASEL_TEST_REQUIRE_SERVICES=1. Tests
// that call it must not be parallel (it sets environment variables).
func dynamoConfig(tb testing.TB, apiOptions ...func(*middleware.Stack) error) aws.Config {
	tb.Helper()
	cfg := awstest.Config(tb, awstest.DynamoDB(tb))
	cfg.APIOptions = append(cfg.APIOptions, apiOptions...)
	return cfg
}

// openStore opens a Store on a new table, migrated, and deletes the table when the test
// ends.
func openStore(tb testing.TB, cfg aws.Config) *dynamostore.Store {
	tb.Helper()
	s, err := dynamostore.Open(context.Background(), cfg, "dynamodb://"+awstest.TableName(tb, cfg))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}
