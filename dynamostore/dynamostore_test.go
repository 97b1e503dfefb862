package dynamostore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/dynamostore"
	"github.com/easelhq/easel/dynamostore/tabledef"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/storetest"
)

func TestConformance(t *testing.T) {
	cfg := dynamoConfig(t)
	storetest.RunCatalogTests(t, func(t *testing.T) easel.Catalog {
		return openStore(t, cfg)
	})
}

func TestMigrateTwice(t *testing.T) {
	cfg := dynamoConfig(t)
	s := openStore(t, cfg) // the first Migrate
	ctx := t.Context()
	img := &easel.Image{ID: easel.NewID(), UserID: "user-a", Status: easel.StatusPending, CreatedAt: time.Now()}
	if err := s.CreateImage(ctx, img); err != nil {
		t.Fatalf("CreateImage = %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate (second) = %v, want nil", err)
	}
	if _, err := s.LookupImage(ctx, img.ID); err != nil {
		t.Errorf("LookupImage after a second Migrate = %v, want the record kept", err)
	}
	out, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.Table())})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	if got := out.Table.BillingModeSummary; got == nil || got.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode = %+v, want PAY_PER_REQUEST", got)
	}
	if got := len(out.Table.GlobalSecondaryIndexes); got != len(tabledef.Definition().Indexes) {
		t.Errorf("table has %d GSIs, want %d", got, len(tabledef.Definition().Indexes))
	}
}

func TestMigrateRejectsForeignTable(t *testing.T) {
	cfg := dynamoConfig(t)
	ctx := t.Context()
	name := awstest.TableName(t, cfg)
	_, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	s, err := dynamostore.Open(ctx, cfg, "dynamodb://"+name)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "key schema") {
		t.Errorf("Migrate on a table with another key schema = %v, want a key schema error", err)
	}
}

func TestMissingTable(t *testing.T) {
	cfg := dynamoConfig(t)
	s, err := dynamostore.Open(t.Context(), cfg, "dynamodb://"+awstest.TableName(t, cfg))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	err = s.Ping(t.Context())
	if easel.ErrorCode(err) != easel.EInternal || !strings.Contains(err.Error(), "easel migrate") {
		t.Errorf("Ping on a missing table = %v, want an internal error that says to run easel migrate", err)
	}
}

// opCounter counts the DynamoDB operations a client makes, by name and index.
type opCounter struct {
	mu  sync.Mutex
	ops []string
}

func (c *opCounter) apiOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("OpCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := middleware.GetOperationName(ctx)
			if q, ok := in.Parameters.(*dynamodb.QueryInput); ok {
				op += ":" + aws.ToString(q.IndexName)
			}
			c.mu.Lock()
			c.ops = append(c.ops, op)
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (c *opCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = nil
	return ops
}

func TestListImagesQueriesTheGalleryIndex(t *testing.T) {
	counter := &opCounter{}
	cfg := dynamoConfig(t, counter.apiOption)
	s := openStore(t, cfg)
	ctx := t.Context()
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		img := &easel.Image{ID: easel.NewID(), UserID: "user-a", Status: easel.StatusPending, CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if err := s.CreateImage(ctx, img); err != nil {
			t.Fatalf("CreateImage = %v", err)
		}
		if err := s.MarkReady(ctx, img.UserID, img.ID); err != nil {
			t.Fatalf("MarkReady = %v", err)
		}
	}
	counter.take()
	page, next, err := s.ListImages(ctx, "user-a", easel.ListOptions{Limit: 2})
	if err != nil || len(page) != 2 || next == nil {
		t.Fatalf("ListImages(limit 2) = %d images, %v, %v; want 2 and a cursor", len(page), next, err)
	}
	if _, _, err := s.ListImages(ctx, "user-a", easel.ListOptions{Limit: 2, After: next}); err != nil {
		t.Fatalf("ListImages(after) = %v", err)
	}
	want := "Query:" + tabledef.GalleryIndex
	ops := counter.take()
	if len(ops) != 2 || ops[0] != want || ops[1] != want {
		t.Errorf("ListImages twice made operations %v, want [%s %s]", ops, want, want)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		want    dynamostore.Location
		wantErr bool
	}{
		{url: "dynamodb://easel-images", want: dynamostore.Location{Table: "easel-images"}},
		{url: "dynamodb://Easel_Images.v2?region=eu-west-1", want: dynamostore.Location{Table: "Easel_Images.v2", Region: "eu-west-1"}},
		{url: "dynamodb://easel/", want: dynamostore.Location{Table: "easel"}},
		{url: "sqlite://easel.db", wantErr: true},
		{url: "dynamodb://", wantErr: true},
		{url: "dynamodb://ab", wantErr: true},
		{url: "dynamodb://easel/more", wantErr: true},
		{url: "dynamodb://easel:8000", wantErr: true},
		{url: "dynamodb://easel?endpoint=http://localhost:8000", wantErr: true},
		{url: "dynamodb://easel?region=", wantErr: true},
		{url: "dynamodb://ea%24sel", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			got, err := dynamostore.ParseURL(tc.url)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseURL(%q) = %+v, %v; want error %v", tc.url, got, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, got, tc.want)
			}
		})
	}
}

func TestOpenNeedsRegion(t *testing.T) {
	if _, err := dynamostore.Open(t.Context(), aws.Config{}, "dynamodb://easel"); err == nil {
		t.Errorf("Open without a region = nil error, want one")
	}
	if _, err := dynamostore.Open(t.Context(), aws.Config{}, "dynamodb://easel?region=us-east-1"); err != nil {
		t.Errorf("Open with ?region= = %v, want nil", err)
	}
}

// TestBeginIdempotentRace checks that of many requests racing with the same key exactly
// one begins and the others see its record.
func TestBeginIdempotentRace(t *testing.T) {
	cfg := dynamoConfig(t)
	s := openStore(t, cfg)
	const workers = 10
	now := time.Now().UTC().Truncate(time.Millisecond)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		began     []string
		conflicts int
	)
	for i := range workers {
		wg.Go(func() {
			rec := &easel.IdempotencyRecord{
				UserID: "user-a", Key: "same-key", RequestHash: fmt.Sprint("request-", i),
				State: easel.IdempotencyRunning, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			}
			got, err := s.BeginIdempotent(t.Context(), rec)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				began = append(began, rec.RequestHash)
			case easel.IsCode(err, easel.EConflict) && got != nil:
				conflicts++
			default:
				t.Errorf("BeginIdempotent = %+v, %v; want nil or a conflict with the record", got, err)
			}
		})
	}
	wg.Wait()
	if len(began) != 1 || conflicts != workers-1 {
		t.Errorf("racing BeginIdempotent: %d began (%v), %d conflicts; want 1 and %d", len(began), began, conflicts, workers-1)
	}
}
