package dynamostore

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/easelhq/easel"
)

// A sign-in session is one item, pk "SESSION#<hex hash>", sk "SESSION", so that each
// request signed in with a cookie costs one GetItem. Its expires_at is the table's TTL
// attribute (Unix seconds), so DynamoDB deletes it some time after it expires; reads
// compare expires_ms with the clock, so an expired session is gone at once.
const (
	sessionPrefix = "SESSION#"
	sessionSK     = "SESSION"
)

type sessionItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	UserID    string `dynamodbav:"user_id"`
	Hash      []byte `dynamodbav:"hash"`
	CreatedAt int64  `dynamodbav:"created_at"` // Unix ns
	ExpiresMs int64  `dynamodbav:"expires_ms"` // Unix ms
	ExpiresAt int64  `dynamodbav:"expires_at"` // Unix s: the TTL attribute
}

func sessionPK(hash []byte) string { return sessionPrefix + hex.EncodeToString(hash) }

// CreateSession stores a new session. EConflict if its hash exists.
func (s *Store) CreateSession(ctx context.Context, sess *easel.Session) error {
	if len(sess.Hash) == 0 || sess.UserID == "" {
		return easel.Errorf(easel.EInvalid, "A session needs a hash and a user.")
	}
	if err := checkTime("session creation time", sess.CreatedAt); err != nil {
		return err
	}
	if err := checkTime("session expiry", sess.ExpiresAt); err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(sessionItem{
		PK: sessionPK(sess.Hash), SK: sessionSK, UserID: sess.UserID, Hash: sess.Hash,
		CreatedAt: sess.CreatedAt.UnixNano(), ExpiresMs: sess.ExpiresAt.UnixMilli(),
		ExpiresAt: sess.ExpiresAt.Unix() + 1,
	})
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	if err := s.putNew(ctx, item); err != nil {
		if ok, _ := conditionFailed(err); ok {
			return easel.WrapError(easel.EConflict, err, "A session with this hash exists.")
		}
		return s.fail(err, "put session")
	}
	return nil
}

// SessionByHash returns the live session with that hash. ENotFound if none.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (*easel.Session, error) {
	notFound := easel.Errorf(easel.ENotFound, "No such session.")
	if len(hash) == 0 {
		return nil, notFound
	}
	item, err := s.getItem(ctx, sessionPK(hash), sessionSK)
	if err != nil {
		return nil, s.fail(err, "get session")
	}
	if item == nil {
		return nil, notFound
	}
	var it sessionItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fmt.Errorf("decode session item: %w", err)
	}
	if it.ExpiresMs <= s.now().UnixMilli() {
		return nil, notFound
	}
	return &easel.Session{
		Hash: it.Hash, UserID: it.UserID, CreatedAt: fromNanos(it.CreatedAt),
		ExpiresAt: fromNanos(it.ExpiresMs * 1e6),
	}, nil
}

// DeleteSession deletes the session with that hash; none is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if len(hash) == 0 {
		return nil
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(sessionPK(hash), sessionSK),
	})
	if err != nil {
		return s.fail(err, "delete session")
	}
	return nil
}
