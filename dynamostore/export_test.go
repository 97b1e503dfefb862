package dynamostore

// CreateTableInput is createTableInput, for tests that make older tables.
var CreateTableInput = createTableInput
