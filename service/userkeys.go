package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/easelhq/easel"
)

// A person's own API keys (/v1/keys): list, create and revoke, each only within the
// caller's user. Another user's key is ENotFound, never EForbidden.

// DefaultMaxUserKeys bounds a user's unrevoked keys made through the API.
const DefaultMaxUserKeys = 10

// ListUserKeys returns the caller's keys, revoked ones included, oldest first.
func (s *Service) ListUserKeys(ctx context.Context, p *Principal) ([]*easel.APIKey, error) {
	all, err := s.catalog.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	mine := slices.DeleteFunc(all, func(k *easel.APIKey) bool { return k.UserID != p.UserID })
	return mine, nil
}

// CreateUserKey makes a key for the caller, unless the caller has max unrevoked keys
// already (max <= 0: DefaultMaxUserKeys). The returned string is the only copy.
func (s *Service) CreateUserKey(ctx context.Context, p *Principal, max int) (*easel.APIKey, string, error) {
	if max <= 0 {
		max = DefaultMaxUserKeys
	}
	keys, err := s.ListUserKeys(ctx, p)
	if err != nil {
		return nil, "", err
	}
	active := 0
	for _, k := range keys {
		if k.RevokedAt == nil {
			active++
		}
	}
	if active >= max {
		return nil, "", easel.Errorf(easel.EConflict, "You have %d API keys, the most allowed; revoke one first.", active)
	}
	return CreateKey(ctx, s.catalog, p.UserID, s.now())
}

// RevokeUserKey revokes one of the caller's keys; it stops working at once on this
// instance and within the key cache's lifetime (30 s) on others. ENotFound when the
// caller has no such key. Revoking a revoked key again is not an error.
func (s *Service) RevokeUserKey(ctx context.Context, p *Principal, id string) error {
	keys, err := s.ListUserKeys(ctx, p)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k *easel.APIKey) bool { return k.ID == id })
	if i < 0 {
		return easel.Errorf(easel.ENotFound, "You have no API key %q.", id)
	}
	if err := s.catalog.RevokeKey(ctx, id, s.now()); err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	s.keys.drop(keys[i].Hash)
	return nil
}

// drop forgets a key's cached authentication.
func (c *keyCache) drop(hash []byte) {
	if len(hash) != 32 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, [32]byte(hash))
}
