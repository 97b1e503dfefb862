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
	GSI1PK    = "gsi1pk"     // gallery / key listing partition, string
	GSI1SK    = "gsi1sk"     // gallery / key listing order, string
	GSI2PK    = "gsi2pk"     // pending-record sweep partition, string
	GSI2SK    = "gsi2sk"     // pending-record sweep order, string
	ExpiresAt = "expires_at" // TTL attribute, number (Unix seconds)
)

// Index names.
const (
	GalleryIndex = "gsi1" // a user's ready images newest first; all API keys
	PendingIndex = "gsi2" // pending image records oldest first
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
		},
		TTLAttribute: ExpiresAt,
	}
}
