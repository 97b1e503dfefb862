package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/easelhq/easel"
)

// cursorSetting names the shared secret that signs page cursors.
const cursorSetting = "cursor-hmac-key"

// A sealed cursor is base64url(8-byte Unix ms | id | 16-byte HMAC). The HMAC covers
// the user id too, so a cursor is tamper-evident and useless for any other user.
const cursorMACLen = 16

func (s *Service) cursorSecret(ctx context.Context) ([]byte, error) {
	s.cursorMu.Lock()
	defer s.cursorMu.Unlock()
	if s.cursorKey != nil {
		return s.cursorKey, nil
	}
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	key, err := s.catalog.Setting(ctx, cursorSetting, fresh)
	if err != nil {
		return nil, fmt.Errorf("cursor secret: %w", err) // a later call tries again
	}
	s.cursorKey = key
	return key, nil
}

func (s *Service) sealCursor(ctx context.Context, user string, c *easel.PageCursor) (string, error) {
	key, err := s.cursorSecret(ctx)
	if err != nil {
		return "", err
	}
	b := binary.BigEndian.AppendUint64(nil, uint64(c.CreatedAt.UnixMilli()))
	b = append(b, c.ID...)
	b = append(b, cursorMAC(key, user, b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Service) openCursor(ctx context.Context, user, sealed string) (*easel.PageCursor, error) {
	bad := easel.ParamErrorf("cursor", "The cursor is not valid; start again without one.")
	if len(sealed) > 128 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < 8+cursorMACLen {
		return nil, bad
	}
	key, err := s.cursorSecret(ctx)
	if err != nil {
		return nil, err
	}
	body, mac := b[:len(b)-cursorMACLen], b[len(b)-cursorMACLen:]
	if !hmac.Equal(mac, cursorMAC(key, user, body)) {
		return nil, bad
	}
	id := string(body[8:])
	if !easel.ValidID(id) {
		return nil, bad
	}
	ms := int64(binary.BigEndian.Uint64(body[:8]))
	return &easel.PageCursor{CreatedAt: time.UnixMilli(ms).UTC(), ID: id}, nil
}

func cursorMAC(key []byte, user string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)[:cursorMACLen]
}
