package httpapi

import (
	"net/http"
	"time"

	"github.com/easelhq/easel"
)

// A person's own API keys, for programs: GET /v1/keys lists them, POST /v1/keys makes
// one (the key is in that answer only; only with a session, never with a key),
// DELETE /v1/keys/{id} revokes one. Only the caller's own keys: another user's is 404.

type keyJSON struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// Current marks the key this request was made with.
	Current bool `json:"current,omitempty"`
}

type newKeyJSON struct {
	keyJSON
	Key string `json:"key"`
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	keys, err := s.cfg.Service.ListUserKeys(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Data []keyJSON `json:"data"`
	}{Data: make([]keyJSON, 0, len(keys))}
	for i := len(keys) - 1; i >= 0; i-- { // newest first
		k := keys[i]
		out.Data = append(out.Data, keyJSON{ID: k.ID, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, Current: k.ID == p.KeyID})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	if !principalOf(r).Session {
		// A key never makes another: a leaked key could otherwise outlive its own
		// revocation through the keys it made.
		s.writeError(w, r, easel.Errorf(easel.EForbidden, "API keys are made by a person signed in to the page (single sign-on), or with `easel keys create`; not with an API key."))
		return
	}
	if r.ContentLength > 0 {
		s.writeError(w, r, easel.Errorf(easel.EInvalid, "POST /v1/keys takes no body."))
		return
	}
	k, key, err := s.cfg.Service.CreateUserKey(r.Context(), principalOf(r), s.cfg.SSO.MaxUserKeys)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, newKeyJSON{keyJSON: keyJSON{ID: k.ID, CreatedAt: k.CreatedAt}, Key: key})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validKeyID(id) {
		s.writeError(w, r, easel.Errorf(easel.ENotFound, "You have no API key %q.", truncateID(id)))
		return
	}
	if err := s.cfg.Service.RevokeUserKey(r.Context(), principalOf(r), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// validKeyID reports whether id has the shape of a key id (the first 12 characters
// of an easel.NewID), so odd path input never reaches the catalog.
func validKeyID(id string) bool {
	if len(id) != 12 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func truncateID(id string) string {
	if len(id) > 32 {
		return id[:32] + "…"
	}
	return id
}
