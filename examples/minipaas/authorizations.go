package main

// API tokens besides the platform's own (heroku authorizations): a CI
// system or a colleague gets its own token, with a description and an
// optional expiry, and losing one means revoking it rather than changing
// the platform's token everywhere. Each is accepted wherever the
// platform token is (the API, git pushes, the dashboard, /metrics) until
// it is revoked, regenerated or expires.
//
// Deviations from Heroku: platform.db keeps only each token's SHA-256, so
// a token is shown once, when created or regenerated (Heroku shows it
// again in authorizations:info); the only scope is "global" (all access),
// so a request for another is refused rather than granted wider access;
// there are no OAuth clients, grants or refresh tokens.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// authorizationRecords keeps the authorizations, keyed by ID.
const authorizationRecords platform.RecordKind = "minipaas.authorizations"

// authorization is what platform.db keeps per token: never the token.
type authorization struct {
	ID          string    `json:"id"`
	Description string    `json:"description"`
	TokenHash   string    `json:"token_sha256"` // hex
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

// authorizations holds them, with an index by token hash.
type authorizations struct {
	p *platform.Platform

	mu     sync.Mutex
	byID   map[string]authorization
	byHash map[string]string // token hash → ID
}

func newAuthorizations(ctx context.Context, p *platform.Platform) (*authorizations, error) {
	s := &authorizations{p: p, byID: map[string]authorization{}, byHash: map[string]string{}}
	recs, err := p.Records(ctx, authorizationRecords)
	if err != nil {
		return nil, err
	}
	for id, raw := range recs {
		var a authorization
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("authorization %s: %w", id, err)
		}
		if a.expired(time.Now()) {
			if err := p.DeleteRecord(ctx, authorizationRecords, id); err != nil {
				return nil, err
			}
			continue
		}
		s.byID[a.ID], s.byHash[a.TokenHash] = a, a.ID
	}
	return s, nil
}

func (a authorization) expired(now time.Time) bool {
	return !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt)
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// valid reports whether token is a live authorization's. The lookup is by
// the token's SHA-256, so its timing says nothing usable about the token.
func (s *authorizations) valid(token string) bool {
	if token == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byHash[tokenHash(token)]
	if !ok {
		return false
	}
	return !s.byID[id].expired(time.Now())
}

// newAPIToken is a token as the CLI shows Heroku's: HRKU- and 64 hex
// digits (32 random bytes).
func newAPIToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return "HRKU-" + hex.EncodeToString(b)
}

// put stores a and indexes it, replacing the previous token's hash.
func (s *authorizations) put(ctx context.Context, a authorization) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := s.p.PutRecord(ctx, authorizationRecords, a.ID, raw); err != nil {
		return err
	}
	s.mu.Lock()
	if old, ok := s.byID[a.ID]; ok {
		delete(s.byHash, old.TokenHash)
	}
	s.byID[a.ID], s.byHash[a.TokenHash] = a, a.ID
	s.mu.Unlock()
	return nil
}

func (s *authorizations) get(id string) (authorization, error) {
	s.mu.Lock()
	a, ok := s.byID[id]
	s.mu.Unlock()
	if !ok {
		return authorization{}, platformapi.NotFound("authorization", id)
	}
	return a, nil
}

// The Platform API's OAuth authorization endpoints.

func (a *api) authorizationRoutes(h func(string, platformapi.HandlerFunc)) {
	h("GET /oauth/authorizations", a.listAuthorizations)
	h("POST /oauth/authorizations", a.createAuthorization)
	h("GET /oauth/authorizations/{id}", a.getAuthorization)
	h("PATCH /oauth/authorizations/{id}", a.updateAuthorization)
	h("DELETE /oauth/authorizations/{id}", a.revokeAuthorization)
	h("POST /oauth/authorizations/{id}/actions/regenerate-tokens", a.regenerateAuthorization)

	// What minipaas does not have, answered as empty lists rather than
	// unknown endpoints: heroku sessions and keys then say there are
	// none, and keys:add says why it cannot.
	empty := func(w http.ResponseWriter, r *http.Request) error {
		platformapi.WriteJSON(w, http.StatusOK, []struct{}{})
		return nil
	}
	h("GET /oauth/sessions", empty) // API tokens are authorizations; there are no browser sessions
	h("DELETE /oauth/sessions/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return platformapi.NotFound("session", r.PathValue("id"))
	})
	h("GET /oauth/clients", empty) // nor an OAuth web flow for third-party clients
	h("POST /oauth/clients", func(w http.ResponseWriter, r *http.Request) error {
		return platformapi.InvalidParams("minipaas has no OAuth web flow: give a client an API token (heroku authorizations:create) instead")
	})
	h("GET /account/keys", empty)
	h("POST /account/keys", func(w http.ResponseWriter, r *http.Request) error {
		return platformapi.InvalidParams("minipaas takes git pushes over HTTP(S) with an API token as the password; it has no SSH keys")
	})
}

type authorizationJSON struct {
	ID           string          `json:"id"`
	Description  string          `json:"description"`
	Scope        []string        `json:"scope"`
	CreatedAt    string          `json:"created_at"`
	UpdatedAt    string          `json:"updated_at"`
	AccessToken  accessTokenJSON `json:"access_token"`
	Client       *struct{}       `json:"client"`
	Grant        *struct{}       `json:"grant"`
	RefreshToken *struct{}       `json:"refresh_token"`
	User         userRef         `json:"user"`
}

type userRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type accessTokenJSON struct {
	ID        string `json:"id"`
	Token     string `json:"token,omitempty"` // only when just made
	ExpiresIn *int64 `json:"expires_in"`
}

func authorizationToJSON(au authorization, token string) authorizationJSON {
	j := authorizationJSON{ID: au.ID, Description: au.Description, Scope: []string{"global"},
		CreatedAt: rfc3339(au.CreatedAt), UpdatedAt: rfc3339(au.UpdatedAt),
		AccessToken: accessTokenJSON{ID: nameUUID("access-token", au.ID, au.TokenHash), Token: token},
		User:        userRef{ID: nameUUID("user", accountEmail), Email: accountEmail}}
	if !au.ExpiresAt.IsZero() {
		left := int64(max(0, time.Until(au.ExpiresAt).Seconds()))
		j.AccessToken.ExpiresIn = &left
	}
	return j
}

func (a *api) listAuthorizations(w http.ResponseWriter, r *http.Request) error {
	s := a.auths
	s.mu.Lock()
	list := make([]authorization, 0, len(s.byID))
	now := time.Now()
	for _, au := range s.byID {
		if !au.expired(now) { // expired ones go at the next start
			list = append(list, au)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(list, func(x, y authorization) int { return x.CreatedAt.Compare(y.CreatedAt) })
	out := make([]authorizationJSON, 0, len(list))
	for _, au := range list {
		out = append(out, authorizationToJSON(au, ""))
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// createAuthorization answers authorizations:create: {description,
// expires_in (seconds, a number or text), scope}.
func (a *api) createAuthorization(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Description string          `json:"description"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Scope       []string        `json:"scope"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if len(body.Description) > 200 {
		return platformapi.InvalidParams("description is %d characters: at most 200", len(body.Description))
	}
	for _, sc := range body.Scope {
		if sc != "global" {
			return platformapi.InvalidParams("scope %q is not offered: minipaas tokens have scope global (all access) only", truncate(sc, 40))
		}
	}
	now := time.Now().UTC()
	au := authorization{ID: platformapi.NewUUID(), Description: body.Description, CreatedAt: now, UpdatedAt: now}
	if raw := strings.Trim(string(body.ExpiresIn), `"`); raw != "" && raw != "null" {
		secs, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || secs <= 0 || secs > 10*365*24*3600 {
			return platformapi.InvalidParams("expires_in %s must be a number of seconds from 1 to ten years", truncate(raw, 20))
		}
		au.ExpiresAt = now.Add(time.Duration(secs) * time.Second)
	}
	token := newAPIToken()
	au.TokenHash = tokenHash(token)
	if err := a.auths.put(r.Context(), au); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, authorizationToJSON(au, token))
	return nil
}

func (a *api) getAuthorization(w http.ResponseWriter, r *http.Request) error {
	au, err := a.auths.get(r.PathValue("id"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, authorizationToJSON(au, ""))
	return nil
}

// updateAuthorization answers authorizations:update (a new description).
func (a *api) updateAuthorization(w http.ResponseWriter, r *http.Request) error {
	au, err := a.auths.get(r.PathValue("id"))
	if err != nil {
		return err
	}
	var body struct {
		Description *string `json:"description"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if body.Description != nil {
		if len(*body.Description) > 200 {
			return platformapi.InvalidParams("description is %d characters: at most 200", len(*body.Description))
		}
		au.Description, au.UpdatedAt = *body.Description, time.Now().UTC()
		if err := a.auths.put(r.Context(), au); err != nil {
			return err
		}
	}
	platformapi.WriteJSON(w, http.StatusOK, authorizationToJSON(au, ""))
	return nil
}

// revokeAuthorization answers authorizations:revoke: the token stops
// working at once.
func (a *api) revokeAuthorization(w http.ResponseWriter, r *http.Request) error {
	s := a.auths
	au, err := s.get(r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.p.DeleteRecord(r.Context(), authorizationRecords, au.ID); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.byID, au.ID)
	delete(s.byHash, au.TokenHash)
	s.mu.Unlock()
	platformapi.WriteJSON(w, http.StatusOK, authorizationToJSON(au, ""))
	return nil
}

// regenerateAuthorization answers authorizations:rotate: a new token, the
// old one refused from now on.
func (a *api) regenerateAuthorization(w http.ResponseWriter, r *http.Request) error {
	au, err := a.auths.get(r.PathValue("id"))
	if err != nil {
		return err
	}
	token := newAPIToken()
	au.TokenHash, au.UpdatedAt = tokenHash(token), time.Now().UTC()
	if err := a.auths.put(r.Context(), au); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, authorizationToJSON(au, token))
	return nil
}
