// Package dynamostore is the Catalog adapter over Amazon DynamoDB (AWS SDK for Go v2):
// one table, described by package tabledef, holding images, API keys, idempotency
// records, quota counters and settings (docs/dynamodb.md has the design). Every write
// is a single-item conditional write, so it also runs on emulators without
// transactions. Endpoint, region and credentials come from the SDK's standard settings
// (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, the default credential chain).
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/dynamostore/tabledef"
)

// Store is a Catalog over one DynamoDB table.
type Store struct {
	client *dynamodb.Client
	table  string
	now    func() time.Time
}

var _ easel.Catalog = (*Store)(nil)

// Location is what a dynamodb:// URL names.
type Location struct {
	Table string
	// Region overrides the SDK configuration's region when set.
	Region string
}

// ParseURL parses dynamodb://TABLE or dynamodb://TABLE?region=REGION.
func ParseURL(rawURL string) (Location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Location{}, fmt.Errorf("parse catalog URL: %w", err)
	}
	if u.Scheme != "dynamodb" {
		return Location{}, fmt.Errorf("catalog URL %q: scheme is %q, want dynamodb", rawURL, u.Scheme)
	}
	if u.User != nil || u.Port() != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("catalog URL %q: want dynamodb://TABLE", rawURL)
	}
	loc := Location{Table: u.Host}
	if err := checkTable(loc.Table); err != nil {
		return Location{}, fmt.Errorf("catalog URL %q: %w", rawURL, err)
	}
	for name, values := range u.Query() {
		if name != "region" {
			return Location{}, fmt.Errorf("catalog URL %q: unknown parameter %q (want region)", rawURL, name)
		}
		if len(values) != 1 || values[0] == "" {
			return Location{}, fmt.Errorf("catalog URL %q: want one non-empty region", rawURL)
		}
		loc.Region = values[0]
	}
	return loc, nil
}

// checkTable applies DynamoDB's table naming rules: 3 to 255 of [a-zA-Z0-9_.-].
func checkTable(name string) error {
	if len(name) < 3 || len(name) > 255 {
		return fmt.Errorf("table name %q must have 3 to 255 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("table name %q: character %q not allowed", name, c)
		}
	}
	return nil
}

// Open returns a Store for rawURL (dynamodb://TABLE?region=...) using cfg, typically
// from config.LoadDefaultConfig. It makes no request: call Migrate to create the table
// and Ping to check it.
func Open(ctx context.Context, cfg aws.Config, rawURL string) (*Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if loc.Region == "" && cfg.Region == "" {
		return nil, fmt.Errorf("catalog URL %q: no AWS region: set AWS_REGION or add ?region=", rawURL)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if loc.Region != "" {
			o.Region = loc.Region
		}
	})
	return &Store{client: client, table: loc.Table, now: time.Now}, nil
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// Ping reads one item, so it needs only the permissions the service uses anyway.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey("PING", "PING"),
	})
	if err != nil {
		return s.fail(err, "ping table")
	}
	return nil
}

// throttleRetryAfter is the pause suggested to callers when DynamoDB throttles: the
// SDK's retryer has already backed off and retried by then.
const throttleRetryAfter = time.Second

// fail wraps err with context and translates the DynamoDB errors every operation can
// meet. Conditional check failures are the caller's to interpret, before calling fail.
//
//	ResourceNotFoundException                           → EInternal, "run easel migrate"
//	ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded → ERateLimited (RetryAfter 1s)
//	anything else                                       → the wrapped error (EInternal)
func (s *Store) fail(err error, format string, args ...any) error {
	cause := fmt.Errorf(format+": %w", append(args, err)...)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return cause
	}
	switch apiErr.ErrorCode() {
	case "ResourceNotFoundException":
		return easel.WrapError(easel.EInternal, cause, "DynamoDB table %q does not exist: run `easel migrate`", s.table)
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		e := easel.WrapError(easel.ERateLimited, cause, "The catalog is busy; try again shortly.")
		e.RetryAfter = throttleRetryAfter
		return e
	}
	return cause
}

// conditionFailed reports whether err is a failed condition of a conditional write, and
// returns the item DynamoDB sent back with it (ReturnValuesOnConditionCheckFailure), if any.
func conditionFailed(err error) (bool, map[string]types.AttributeValue) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true, ccf.Item
	}
	return false, nil
}

// itemKey returns a table key.
func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		tabledef.PK: &types.AttributeValueMemberS{Value: pk},
		tabledef.SK: &types.AttributeValueMemberS{Value: sk},
	}
}

// getItem reads one item with a strongly consistent read; nil when there is none.
func (s *Store) getItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(v)}
}

// checkTime rejects times that Unix nanoseconds in an int64 (how times are stored)
// cannot hold.
func checkTime(name string, t time.Time) error {
	if y := t.UTC().Year(); y < 1970 || y > 2261 {
		return easel.Errorf(easel.EInvalid, "%s %v is outside the years 1970-2261", name, t)
	}
	return nil
}

// sortTime is the fixed-width text of a time, so that byte order is time order.
func sortTime(t time.Time) string { return fmt.Sprintf("%020d", t.UnixNano()) }

// sortKey orders records by time, then id.
func sortKey(t time.Time, id string) string { return sortTime(t) + "#" + id }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// expiresAt is the TTL attribute: Unix seconds, rounded up so TTL never deletes an item
// before the moment the record itself says it expires.
func expiresAt(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
