package dynamostore

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/dynamostore/tabledef"
)

// API keys are two items. The key item, pk "KEY#<hex hash>", sk "KEY", holds the record,
// so authenticating a request is one GetItem; it carries gsi1pk "KEYS" and gsi1sk
// "<created>#<id>" for ListKeys. The id item, pk "KEYID#<id>", sk "KEYID", claims the id
// and points at the hash, for RevokeKey. Without transactions the two are written one
// after the other; see CreateKey.
const (
	keyPrefix   = "KEY#"
	keySK       = "KEY"
	keyIDPrefix = "KEYID#"
	keyIDSK     = "KEYID"
	keysPK      = "KEYS"
)

type keyItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	GSI1PK    string `dynamodbav:"gsi1pk"`
	GSI1SK    string `dynamodbav:"gsi1sk"`
	ID        string `dynamodbav:"key_id"`
	UserID    string `dynamodbav:"user_id"`
	Hash      []byte `dynamodbav:"hash"`
	CreatedAt int64  `dynamodbav:"created_at"`           // Unix ns
	RevokedAt *int64 `dynamodbav:"revoked_at,omitempty"` // Unix ns
}

type keyIDItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Hash []byte `dynamodbav:"hash"`
}

func keyPK(hash []byte) string { return keyPrefix + hex.EncodeToString(hash) }

func (it *keyItem) key() *easel.APIKey {
	k := &easel.APIKey{ID: it.ID, UserID: it.UserID, Hash: it.Hash, CreatedAt: fromNanos(it.CreatedAt)}
	if it.RevokedAt != nil {
		t := fromNanos(*it.RevokedAt)
		k.RevokedAt = &t
	}
	return k
}

func decodeKey(item map[string]types.AttributeValue) (*easel.APIKey, error) {
	var it keyItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fmt.Errorf("decode key item: %w", err)
	}
	return it.key(), nil
}

// CreateKey stores a key. EConflict if its id or hash exists. It claims the id first,
// then writes the key item; if that fails it releases the claim. A crash between the two
// leaves a claimed id with no key, which RevokeKey reports as not found: ids are random,
// so nothing else is lost.
func (s *Store) CreateKey(ctx context.Context, k *easel.APIKey) error {
	if k.ID == "" || k.UserID == "" || len(k.Hash) == 0 {
		return easel.Errorf(easel.EInvalid, "API key needs an id, a user and a hash")
	}
	if err := checkTime("key creation time", k.CreatedAt); err != nil {
		return err
	}
	claim, err := attributevalue.MarshalMap(keyIDItem{PK: keyIDPrefix + k.ID, SK: keyIDSK, Hash: k.Hash})
	if err != nil {
		return fmt.Errorf("encode key id %s: %w", k.ID, err)
	}
	it := keyItem{
		PK: keyPK(k.Hash), SK: keySK, GSI1PK: keysPK, GSI1SK: sortKey(k.CreatedAt, k.ID),
		ID: k.ID, UserID: k.UserID, Hash: k.Hash, CreatedAt: k.CreatedAt.UnixNano(),
	}
	if k.RevokedAt != nil {
		n := k.RevokedAt.UnixNano()
		it.RevokedAt = &n
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("encode key %s: %w", k.ID, err)
	}
	if err := s.putNew(ctx, claim); err != nil {
		if ok, _ := conditionFailed(err); ok {
			return easel.WrapError(easel.EConflict, err, "An API key with id %s exists.", k.ID)
		}
		return s.fail(err, "claim key id %s", k.ID)
	}
	if err := s.putNew(ctx, item); err != nil {
		if rerr := s.releaseKeyID(ctx, k); rerr != nil {
			err = fmt.Errorf("%w (and releasing its id: %v)", err, rerr)
		}
		if ok, _ := conditionFailed(err); ok {
			return easel.WrapError(easel.EConflict, err, "An API key with this hash exists.")
		}
		return s.fail(err, "put key %s", k.ID)
	}
	return nil
}

// putNew writes an item that must not exist yet.
func (s *Store) putNew(ctx context.Context, item map[string]types.AttributeValue) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	return err
}

// releaseKeyID deletes the id claim of k, only if it is still k's.
func (s *Store) releaseKeyID(ctx context.Context, k *easel.APIKey) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(keyIDPrefix+k.ID, keyIDSK),
		ConditionExpression:       aws.String("#hash = :hash"),
		ExpressionAttributeNames:  map[string]string{"#hash": "hash"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":hash": &types.AttributeValueMemberB{Value: k.Hash}},
	})
	return err
}

// KeyByHash returns the key with that hash, revoked or not. ENotFound if none.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (*easel.APIKey, error) {
	if len(hash) == 0 {
		return nil, easel.Errorf(easel.ENotFound, "No such API key.")
	}
	item, err := s.getItem(ctx, keyPK(hash), keySK)
	if err != nil {
		return nil, s.fail(err, "get key by hash")
	}
	if item == nil {
		return nil, easel.Errorf(easel.ENotFound, "No such API key.")
	}
	return decodeKey(item)
}

// ListKeys returns all keys, oldest first, from the KEYS partition of the gallery index.
func (s *Store) ListKeys(ctx context.Context) ([]*easel.APIKey, error) {
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(tabledef.GalleryIndex),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": tabledef.GSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(keysPK)},
		ScanIndexForward:          aws.Bool(true),
	})
	var keys []*easel.APIKey
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s.fail(err, "query keys")
		}
		for _, item := range page.Items {
			k, err := decodeKey(item)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// RevokeKey marks a key revoked; a key revoked before keeps its first revocation time.
// ENotFound if there is no such key.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	if err := checkTime("revocation time", at); err != nil {
		return err
	}
	item, err := s.getItem(ctx, keyIDPrefix+id, keyIDSK)
	if err != nil {
		return s.fail(err, "get key id %s", id)
	}
	notFound := easel.Errorf(easel.ENotFound, "API key %s was not found.", id)
	if item == nil {
		return notFound
	}
	var claim keyIDItem
	if err := attributevalue.UnmarshalMap(item, &claim); err != nil {
		return fmt.Errorf("decode key id item %s: %w", id, err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(keyPK(claim.Hash), keySK),
		UpdateExpression:         aws.String("SET #revoked = if_not_exists(#revoked, :at)"),
		ConditionExpression:      aws.String("#id = :id"),
		ExpressionAttributeNames: map[string]string{"#revoked": "revoked_at", "#id": "key_id"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": num(at.UnixNano()),
			":id": str(id),
		},
	})
	if ok, _ := conditionFailed(err); ok {
		return notFound
	}
	if err != nil {
		return s.fail(err, "revoke key %s", id)
	}
	return nil
}
