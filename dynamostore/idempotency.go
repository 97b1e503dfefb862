package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/easelhq/easel"
)

// Idempotency records: pk "IDEM#<user>", sk "IDEM#<key>" (two attributes, so no user and
// key can be confused with another pair). expires_ns is the record's own expiry, used in
// conditions and reads; expires_at (seconds) lets TTL delete it later.
const (
	idemPrefix  = "IDEM#"
	beginTries  = 3
	stateAttr   = "state"
	expiresNano = "expires_ns"
	// maxIdemKey keeps "IDEM#<key>" within DynamoDB's 1024-byte sort key limit.
	maxIdemKey = 1000
)

type idemItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	UserID      string `dynamodbav:"user_id"`
	Key         string `dynamodbav:"idem_key"`
	RequestHash string `dynamodbav:"request_hash"`
	State       string `dynamodbav:"state"`
	StatusCode  int    `dynamodbav:"status_code,omitempty"`
	Response    []byte `dynamodbav:"response,omitempty"`
	CreatedAt   int64  `dynamodbav:"created_at"` // Unix ns
	ExpiresNS   int64  `dynamodbav:"expires_ns"` // Unix ns
	ExpiresAt   int64  `dynamodbav:"expires_at"` // Unix s, TTL
}

func idemKey(userID, key string) map[string]types.AttributeValue {
	return itemKey(idemPrefix+userID, idemPrefix+key)
}

func (it *idemItem) record() *easel.IdempotencyRecord {
	return &easel.IdempotencyRecord{
		UserID: it.UserID, Key: it.Key, RequestHash: it.RequestHash,
		State: easel.IdempotencyState(it.State), StatusCode: it.StatusCode, Response: it.Response,
		CreatedAt: fromNanos(it.CreatedAt), ExpiresAt: fromNanos(it.ExpiresNS),
	}
}

// BeginIdempotent stores rec unless a live record exists for the same user and key, in
// which case it returns that record and EConflict. The write is conditional on no live
// record (none, or one at or past its expiry), so two racing requests cannot both begin.
func (s *Store) BeginIdempotent(ctx context.Context, rec *easel.IdempotencyRecord) (*easel.IdempotencyRecord, error) {
	if rec.UserID == "" || rec.Key == "" {
		return nil, easel.Errorf(easel.EInvalid, "idempotency record needs a user and a key")
	}
	if len(rec.Key) > maxIdemKey {
		return nil, easel.Errorf(easel.EInvalid, "The Idempotency-Key must be at most %d bytes.", maxIdemKey)
	}
	item, err := encodeIdem(rec)
	if err != nil {
		return nil, err
	}
	for range beginTries {
		now := s.now()
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                           aws.String(s.table),
			Item:                                item,
			ConditionExpression:                 aws.String("attribute_not_exists(pk) OR #exp <= :now"),
			ExpressionAttributeNames:            map[string]string{"#exp": expiresNano},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.UnixNano())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		failed, old := conditionFailed(err)
		if !failed {
			if err != nil {
				return nil, s.fail(err, "put idempotency record")
			}
			return nil, nil
		}
		if len(old) == 0 {
			// Emulators may not return the item with the failure: read it.
			if old, err = s.getItem(ctx, idemPrefix+rec.UserID, idemPrefix+rec.Key); err != nil {
				return nil, s.fail(err, "get idempotency record")
			}
		}
		if existing, err := s.liveRecord(old); err != nil || existing != nil {
			if err != nil {
				return nil, err
			}
			return existing, easel.Errorf(easel.EConflict, "A request with this Idempotency-Key is known.")
		}
		// The record expired or was aborted since the write: try again.
	}
	return nil, fmt.Errorf("begin idempotent request: the record kept changing for %d tries", beginTries)
}

// encodeIdem checks rec and encodes it as a new item (State running unless set).
func encodeIdem(rec *easel.IdempotencyRecord) (map[string]types.AttributeValue, error) {
	if err := checkTime("idempotency creation time", rec.CreatedAt); err != nil {
		return nil, err
	}
	if err := checkTime("idempotency expiry", rec.ExpiresAt); err != nil {
		return nil, err
	}
	state := rec.State
	if state == "" {
		state = easel.IdempotencyRunning
	}
	item, err := attributevalue.MarshalMap(idemItem{
		PK: idemPrefix + rec.UserID, SK: idemPrefix + rec.Key,
		UserID: rec.UserID, Key: rec.Key, RequestHash: rec.RequestHash, State: string(state),
		StatusCode: rec.StatusCode, Response: rec.Response,
		CreatedAt: rec.CreatedAt.UnixNano(), ExpiresNS: rec.ExpiresAt.UnixNano(), ExpiresAt: expiresAt(rec.ExpiresAt),
	})
	if err != nil {
		return nil, fmt.Errorf("encode idempotency record: %w", err)
	}
	return item, nil
}

// GetIdempotent returns the live record of the user's key (a strongly consistent
// read). ENotFound if none.
func (s *Store) GetIdempotent(ctx context.Context, userID, key string) (*easel.IdempotencyRecord, error) {
	item, err := s.getItem(ctx, idemPrefix+userID, idemPrefix+key)
	if err != nil {
		return nil, s.fail(err, "get idempotency record")
	}
	rec, err := s.liveRecord(item)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, easel.Errorf(easel.ENotFound, "No request with this Idempotency-Key.")
	}
	return rec, nil
}

// TakeOverIdempotent replaces stale's claim with rec: a PutItem conditional on the
// stored item being that claim (running, same created_at, not expired), so of two
// retries taking over the same claim one wins and the other gets EConflict.
func (s *Store) TakeOverIdempotent(ctx context.Context, stale, rec *easel.IdempotencyRecord) (*easel.IdempotencyRecord, error) {
	if rec.UserID != stale.UserID || rec.Key != stale.Key {
		return nil, easel.Errorf(easel.EInvalid, "take over: the records name different keys")
	}
	item, err := encodeIdem(rec)
	if err != nil {
		return nil, err
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("#state = :state AND #created = :created AND #exp > :now"),
		ExpressionAttributeNames: map[string]string{
			"#state": stateAttr, "#created": "created_at", "#exp": expiresNano,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":state":   str(string(stale.State)),
			":created": num(stale.CreatedAt.UnixNano()),
			":now":     num(s.now().UnixNano()),
		},
	})
	failed, _ := conditionFailed(err)
	if !failed {
		if err != nil {
			return nil, s.fail(err, "take over idempotency record")
		}
		return nil, nil
	}
	cur, err := s.GetIdempotent(ctx, stale.UserID, stale.Key)
	if err != nil && !easel.IsCode(err, easel.ENotFound) {
		return nil, err
	}
	return cur, easel.Errorf(easel.EConflict, "The request with this Idempotency-Key was taken over already.")
}

// liveRecord decodes item, returning nil for no item or an expired one.
func (s *Store) liveRecord(item map[string]types.AttributeValue) (*easel.IdempotencyRecord, error) {
	if len(item) == 0 {
		return nil, nil
	}
	var it idemItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fmt.Errorf("decode idempotency record: %w", err)
	}
	if it.ExpiresNS <= s.now().UnixNano() {
		return nil, nil
	}
	return it.record(), nil
}

// FinishIdempotent stores the answer of rec's claim (running, same request hash and
// created_at) and marks it done, with rec's expiry. ENotFound if that claim is not
// running (it expired and was replaced, was taken over, or was aborted).
func (s *Store) FinishIdempotent(ctx context.Context, rec *easel.IdempotencyRecord) error {
	if err := checkTime("idempotency expiry", rec.ExpiresAt); err != nil {
		return err
	}
	update := "SET #state = :done, #code = :code, #exp = :exp, #ttl = :ttl"
	values := map[string]types.AttributeValue{
		":done":    str(string(easel.IdempotencyDone)),
		":running": str(string(easel.IdempotencyRunning)),
		":hash":    str(rec.RequestHash),
		":code":    num(int64(rec.StatusCode)),
		":exp":     num(rec.ExpiresAt.UnixNano()),
		":ttl":     num(expiresAt(rec.ExpiresAt)),
		":created": num(rec.CreatedAt.UnixNano()),
	}
	names := map[string]string{
		"#state": stateAttr, "#hash": "request_hash", "#code": "status_code",
		"#exp": expiresNano, "#ttl": "expires_at", "#resp": "response", "#created": "created_at",
	}
	if len(rec.Response) > 0 {
		update += ", #resp = :resp"
		values[":resp"] = &types.AttributeValueMemberB{Value: rec.Response}
	} else {
		update += " REMOVE #resp"
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       idemKey(rec.UserID, rec.Key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#state = :running AND #hash = :hash AND #created = :created"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if ok, _ := conditionFailed(err); ok {
		return easel.WrapError(easel.ENotFound, err, "No running request has this Idempotency-Key.")
	}
	if err != nil {
		return s.fail(err, "finish idempotency record")
	}
	return nil
}

// AbortIdempotent deletes rec's claim (running, same created_at), so the request can be
// retried. A done record, another claim, or none, is left as it is, and is not an error.
func (s *Store) AbortIdempotent(ctx context.Context, rec *easel.IdempotencyRecord) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      idemKey(rec.UserID, rec.Key),
		ConditionExpression:      aws.String("#state = :running AND #created = :created"),
		ExpressionAttributeNames: map[string]string{"#state": stateAttr, "#created": "created_at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":running": str(string(easel.IdempotencyRunning)),
			":created": num(rec.CreatedAt.UnixNano()),
		},
	})
	if ok, _ := conditionFailed(err); ok {
		return nil
	}
	if err != nil {
		return s.fail(err, "delete idempotency record")
	}
	return nil
}
