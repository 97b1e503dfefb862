package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"github.com/easelhq/easel"
)

// newWebhookKey returns a new signing secret in the Standard Webhooks form: "whsec_"
// and the base64 of 32 random bytes.
func newWebhookKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// WebhookSecret returns the caller's webhook signing secret, making one on first use.
func (s *Service) WebhookSecret(ctx context.Context, p *Principal) (*easel.WebhookSecret, error) {
	for range maxCASRetries {
		sec, err := s.catalog.WebhookSecret(ctx, p.UserID)
		if err == nil {
			return sec, nil
		}
		if !easel.IsCode(err, easel.ENotFound) {
			return nil, err
		}
		sec = &easel.WebhookSecret{UserID: p.UserID, Key: newWebhookKey(), CreatedAt: s.now().UTC().Truncate(1e6)}
		err = s.catalog.PutWebhookSecret(ctx, sec)
		if err == nil {
			return sec, nil
		}
		if !easel.IsCode(err, easel.EConflict) {
			return nil, err
		}
	}
	return nil, errors.New("webhook secret: still conflicting")
}

// RotateWebhookSecret gives the caller a new signing secret; the previous one keeps
// signing beside it for JobConfig.WebhookGrace, so receivers can switch without
// losing a delivery.
func (s *Service) RotateWebhookSecret(ctx context.Context, p *Principal) (*easel.WebhookSecret, error) {
	for range maxCASRetries {
		sec, err := s.WebhookSecret(ctx, p)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC().Truncate(1e6)
		sec.Previous, sec.PreviousUntil = sec.Key, now.Add(s.jobs.WebhookGrace)
		sec.Key, sec.CreatedAt = newWebhookKey(), now
		err = s.catalog.PutWebhookSecret(ctx, sec)
		if err == nil {
			return sec, nil
		}
		if !easel.IsCode(err, easel.EConflict) {
			return nil, err
		}
	}
	return nil, errors.New("rotate webhook secret: still conflicting")
}

// signingKeys are the keys that sign a user's webhooks now: the current one, and the
// previous one during its grace period.
func (s *Service) signingKeys(ctx context.Context, user string) ([]string, error) {
	sec, err := s.WebhookSecret(ctx, &Principal{UserID: user})
	if err != nil {
		return nil, err
	}
	keys := []string{sec.Key}
	if sec.Previous != "" && s.now().Before(sec.PreviousUntil) {
		keys = append(keys, sec.Previous)
	}
	return keys, nil
}
