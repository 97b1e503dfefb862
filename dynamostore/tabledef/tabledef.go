// Package tabledef is the one description of Easel's DynamoDB table: attribute names,
// key schema, indexes and the TTL attribute. The dynamostore adapter creates and uses
// the table from it, and the CDK app in infra/ builds the same table from it, so the two
// cannot drift. It imports nothing, so the infra module can depend on it cheaply.
package tabledef

// DefaultTableName is the table name used when none is configured.
const DefaultTableName = "easel"

// Attribute names.
const (
	PK        = "pk"         // partition key, string
	SK        = "sk"         // sort key, string
	GSI1PK    = "gsi1pk"     // gallery / key listing / a user's jobs partition, string
	GSI1SK    = "gsi1sk"     // gallery / key listing / a user's jobs order, string
	GSI2PK    = "gsi2pk"     // pending-record sweep / a user's active jobs partition, string
	GSI2SK    = "gsi2sk"     // pending-record sweep / a user's active jobs order, string
	GSI3PK    = "gsi3pk"     // jobs due for background work: partition, string
	GSI3SK    = "gsi3sk"     // jobs due for background work: order, string
	ExpiresAt = "expires_at" // TTL attribute, number (Unix seconds)
)

// Index names.
const (
	GalleryIndex = "gsi1" // a user's ready images newest first; all API keys; a user's jobs
	PendingIndex = "gsi2" // pending image records oldest first; a user's queued and running jobs
	// DueIndex holds jobs by the background work they wait for (queued, running with a
	// lease, ended with events to deliver), oldest first. Added with jobs: an existing
	// table gets it from a CDK deploy (one new index per CloudFormation update) or by
	// hand (docs/dynamodb.md).
	DueIndex = "gsi3"
)

// KeyAttr is one key attribute: its name and DynamoDB scalar type ("S", "N", "B").
type KeyAttr struct {
	Name string
	Type string
}

// Index is a global secondary index with ALL projection.
type Index struct {
	Name         string
	PartitionKey KeyAttr
	SortKey      KeyAttr
}

// Table describes the table.
type Table struct {
	PartitionKey KeyAttr
	SortKey      KeyAttr
	Indexes      []Index
	TTLAttribute string
}

// Definition returns the table's description. Billing is on demand (PAY_PER_REQUEST).
func Definition() Table {
	return Table{
		PartitionKey: KeyAttr{PK, "S"},
		SortKey:      KeyAttr{SK, "S"},
		Indexes: []Index{
			{Name: GalleryIndex, PartitionKey: KeyAttr{GSI1PK, "S"}, SortKey: KeyAttr{GSI1SK, "S"}},
			{Name: PendingIndex, PartitionKey: KeyAttr{GSI2PK, "S"}, SortKey: KeyAttr{GSI2SK, "S"}},
			{Name: DueIndex, PartitionKey: KeyAttr{GSI3PK, "S"}, SortKey: KeyAttr{GSI3SK, "S"}},
		},
		TTLAttribute: ExpiresAt,
	}
}
