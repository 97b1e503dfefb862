package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel/dynamostore/tabledef"
)

// migrateWait bounds how long Migrate waits for a new table to become ACTIVE.
const migrateWait = 5 * time.Minute

// Migrate creates the table from tabledef.Definition (on-demand billing, both GSIs)
// unless it exists, waits until it is ACTIVE, checks that its keys and indexes are the
// ones the adapter needs, and turns on TTL where the backend supports it. Running it
// again is a no-op. In AWS the CDK app creates the same table from the same definition.
func (s *Store) Migrate(ctx context.Context) error {
	def := tabledef.Definition()
	_, err := s.client.CreateTable(ctx, createTableInput(s.table, def))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return s.fail(err, "create table %q", s.table)
	}
	waiter := dynamodb.NewTableExistsWaiter(s.client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	out, err := waiter.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, migrateWait)
	if err != nil {
		return s.fail(err, "wait for table %q", s.table)
	}
	if err := checkTableShape(out.Table, def); err != nil {
		return fmt.Errorf("table %q: %w", s.table, err)
	}
	return s.enableTTL(ctx, def.TTLAttribute)
}

func createTableInput(table string, def tabledef.Table) *dynamodb.CreateTableInput {
	attrs := map[string]string{}
	keySchema := func(pk, sk tabledef.KeyAttr) []types.KeySchemaElement {
		attrs[pk.Name], attrs[sk.Name] = pk.Type, sk.Type
		return []types.KeySchemaElement{
			{AttributeName: aws.String(pk.Name), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(sk.Name), KeyType: types.KeyTypeRange},
		}
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(def.PartitionKey, def.SortKey),
	}
	for _, ix := range def.Indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  keySchema(ix.PartitionKey, ix.SortKey),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	for name, typ := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(name),
			AttributeType: types.ScalarAttributeType(typ),
		})
	}
	return in
}

// checkTableShape fails when an existing table was made for something else: the
// adapter's queries would fail later in less obvious ways.
func checkTableShape(t *types.TableDescription, def tabledef.Table) error {
	if t == nil {
		return errors.New("no table description")
	}
	if !sameKeys(t.KeySchema, def.PartitionKey, def.SortKey) {
		return fmt.Errorf("key schema %s, want %s and %s", keyNames(t.KeySchema), def.PartitionKey.Name, def.SortKey.Name)
	}
	for _, want := range def.Indexes {
		found := false
		for _, got := range t.GlobalSecondaryIndexes {
			if aws.ToString(got.IndexName) != want.Name {
				continue
			}
			found = true
			if !sameKeys(got.KeySchema, want.PartitionKey, want.SortKey) {
				return fmt.Errorf("index %q has keys %s, want %s and %s", want.Name, keyNames(got.KeySchema), want.PartitionKey.Name, want.SortKey.Name)
			}
			if got.Projection == nil || got.Projection.ProjectionType != types.ProjectionTypeAll {
				return fmt.Errorf("index %q does not project all attributes", want.Name)
			}
		}
		if !found {
			return fmt.Errorf("index %q is missing: the table was made by an older Easel; "+
				"deploy the CDK app, or add the index by hand (docs/dynamodb.md, Upgrading)", want.Name)
		}
	}
	return nil
}

func sameKeys(ks []types.KeySchemaElement, pk, sk tabledef.KeyAttr) bool {
	if len(ks) != 2 {
		return false
	}
	for _, k := range ks {
		name := aws.ToString(k.AttributeName)
		if k.KeyType == types.KeyTypeHash && name != pk.Name || k.KeyType == types.KeyTypeRange && name != sk.Name {
			return false
		}
	}
	return true
}

func keyNames(ks []types.KeySchemaElement) string {
	s := ""
	for _, k := range ks {
		s += fmt.Sprintf("[%s %s]", aws.ToString(k.AttributeName), k.KeyType)
	}
	return s
}

// enableTTL asks DynamoDB to delete expired items. Emulators without TTL answer
// UnknownOperationException, and DynamoDB answers ValidationException when TTL is
// already on: both leave nothing to do. Reads filter expired items either way, since
// TTL deletion is lazy (up to days late).
func (s *Store) enableTTL(ctx context.Context, attr string) error {
	_, err := s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(s.table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attr),
			Enabled:       aws.Bool(true),
		},
	})
	var apiErr smithy.APIError
	if err != nil && errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "UnknownOperationException", "ValidationException":
			return nil
		}
	}
	if err != nil {
		return s.fail(err, "enable TTL on table %q", s.table)
	}
	return nil
}
