package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
)

func TestUserForIdentity(t *testing.T) {
	e := newEnv(t, service.DefaultLimits())
	ctx := t.Context()
	ann := service.Identity{Issuer: "https://idp.example", Subject: "ann"}
	u1, created, err := e.svc.UserForIdentity(ctx, ann)
	if err != nil || !created || !strings.HasPrefix(u1, "sso-") || !service.ValidUserID(u1) {
		t.Fatalf("first sign-in = %q, %v, %v; want a new valid sso- user", u1, created, err)
	}
	u2, created, err := e.svc.UserForIdentity(ctx, ann)
	if err != nil || created || u2 != u1 {
		t.Errorf("second sign-in = %q, %v, %v; want %q, not new", u2, created, err, u1)
	}
	// The same subject at another issuer, and another subject, are other people.
	for _, other := range []service.Identity{{Issuer: "https://other.example", Subject: "ann"}, {Issuer: ann.Issuer, Subject: "bob"}} {
		u, _, err := e.svc.UserForIdentity(ctx, other)
		if err != nil || u == u1 {
			t.Errorf("UserForIdentity(%+v) = %q, %v; want another user than %q", other, u, err, u1)
		}
	}
	if _, _, err := e.svc.UserForIdentity(ctx, service.Identity{Issuer: ann.Issuer}); easel.ErrorCode(err) != easel.EUnauthorized {
		t.Errorf("no subject: %v, want unauthorized", err)
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t, service.DefaultLimits())
	ctx := t.Context()
	id, sess, err := e.svc.StartSession(ctx, "alice", time.Hour)
	if err != nil || !strings.HasPrefix(id, service.SessionPrefix) || sess.UserID != "alice" {
		t.Fatalf("StartSession = %q %+v %v", id, sess, err)
	}
	p, _, err := e.svc.SessionPrincipal(ctx, id)
	if err != nil || p.UserID != "alice" || !p.Session || p.KeyID != "" {
		t.Fatalf("SessionPrincipal = %+v, %v", p, err)
	}
	if service.SessionCSRF(id) == "" || service.SessionCSRF(id) == service.SessionCSRF(id+"x") || strings.Contains(service.SessionCSRF(id), id) {
		t.Errorf("CSRF tokens must differ per session and not hold the id")
	}
	for _, bad := range []string{"", "easels_nope", id + "x", strings.Repeat("a", 200), "easel_" + id[7:]} {
		if _, _, err := e.svc.SessionPrincipal(ctx, bad); easel.ErrorCode(err) != easel.EUnauthorized {
			t.Errorf("SessionPrincipal(%.20q) = %v, want unauthorized", bad, err)
		}
	}
	// The service's clock decides expiry too, not only the catalog's.
	e.clock.Add(2 * time.Hour)
	if _, _, err := e.svc.SessionPrincipal(ctx, id); easel.ErrorCode(err) != easel.EUnauthorized {
		t.Errorf("after its lifetime: %v, want unauthorized", err)
	}
	e.clock.Add(-2 * time.Hour)
	if err := e.svc.EndSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.SessionPrincipal(ctx, id); easel.ErrorCode(err) != easel.EUnauthorized {
		t.Errorf("after EndSession: %v, want unauthorized", err)
	}
}

func TestUserKeysStayWithTheirUser(t *testing.T) {
	e := newEnv(t, service.DefaultLimits())
	ctx := t.Context()
	k, key, err := e.svc.CreateUserKey(ctx, e.alice, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := e.svc.Authenticate(ctx, key); err != nil || p.UserID != "alice" {
		t.Fatalf("Authenticate(new key) = %+v, %v", p, err)
	}
	if keys, _ := e.svc.ListUserKeys(ctx, e.bob); len(keys) != 0 {
		t.Errorf("bob lists %d keys, want none of alice's", len(keys))
	}
	if err := e.svc.RevokeUserKey(ctx, e.bob, k.ID); easel.ErrorCode(err) != easel.ENotFound {
		t.Errorf("bob revoking alice's key = %v, want not_found", err)
	}
	if _, err := e.svc.Authenticate(ctx, key); err != nil {
		t.Errorf("alice's key after bob's attempt: %v", err)
	}
	if _, _, err := e.svc.CreateUserKey(ctx, e.alice, 2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateUserKey(ctx, e.alice, 2); easel.ErrorCode(err) != easel.EConflict {
		t.Errorf("a third key with a limit of 2 = %v, want conflict", err)
	}
	// The key was cached by Authenticate; revoking drops it at once.
	if err := e.svc.RevokeUserKey(ctx, e.alice, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, key); easel.ErrorCode(err) != easel.EUnauthorized {
		t.Errorf("the revoked key = %v, want unauthorized at once", err)
	}
}
