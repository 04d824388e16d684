package main

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// What a one-machine, one-account platform has of Heroku's catalog: one
// region and one stack (this machine's), no teams or private spaces, and
// the account's owner as every app's only collaborator. They answer the
// CLI's heroku regions, apps:stacks, stack:set, teams, spaces and access.

func (a *api) catalogRoutes(h func(string, platformapi.HandlerFunc)) {
	h("GET /regions", func(w http.ResponseWriter, r *http.Request) error {
		platformapi.WriteJSON(w, http.StatusOK, []any{regionJSON()})
		return nil
	})
	h("GET /regions/{region}", func(w http.ResponseWriter, r *http.Request) error {
		if k := r.PathValue("region"); k != regionLocal.Name && k != regionLocal.ID {
			return platformapi.NotFound("region", k)
		}
		platformapi.WriteJSON(w, http.StatusOK, regionJSON())
		return nil
	})
	h("GET /stacks", func(w http.ResponseWriter, r *http.Request) error {
		platformapi.WriteJSON(w, http.StatusOK, []any{stackJSON()})
		return nil
	})
	h("GET /stacks/{stack}", func(w http.ResponseWriter, r *http.Request) error {
		if k := r.PathValue("stack"); k != stackLocal.Name && k != stackLocal.ID {
			return platformapi.NotFound("stack", k)
		}
		platformapi.WriteJSON(w, http.StatusOK, stackJSON())
		return nil
	})
	none := func(w http.ResponseWriter, r *http.Request) error {
		platformapi.WriteJSON(w, http.StatusOK, []any{})
		return nil
	}
	h("GET /teams", none)
	h("GET /spaces", none)
	h("GET /apps/{app}/collaborators", a.listCollaborators)
	h("GET /apps/{app}/collaborators/{collaborator}", a.getCollaborator)
	h("POST /apps/{app}/collaborators", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := a.app(r); err != nil {
			return err
		}
		return platformapi.InvalidParams("minipaas has one account (%s), whose API token is the only login: it cannot add collaborators", accountEmail)
	})
}

func regionJSON() map[string]any {
	return map[string]any{
		"id": regionLocal.ID, "name": regionLocal.Name, "description": "This machine",
		"country": "", "locale": "", "private_capable": false, "provider": map[string]string{"name": "minipaas", "region": "local"},
		"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
	}
}

func stackJSON() map[string]any {
	return map[string]any{
		"id": stackLocal.ID, "name": stackLocal.Name, "state": "public", "default": true,
		"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
	}
}

// checkStack accepts a stack of POST /apps (heroku create --stack) or a
// build_stack of PATCH /apps/{app} (heroku stack:set): a name or an
// object with a name or id; only this machine's stack exists.
func checkStack(field string, raw json.RawMessage) error {
	return checkCatalogRef(field, raw, stackLocal, "Stack %q is not available on minipaas: apps build and run on this machine, stack %q.")
}

// checkRegion accepts a region of POST /apps (heroku create --region):
// only this machine's region exists.
func checkRegion(field string, raw json.RawMessage) error {
	return checkCatalogRef(field, raw, regionLocal, "Region %q is not available on minipaas: apps run on this machine, region %q.")
}

// checkCatalogRef accepts raw as a reference to want: its name, or an
// object with its name or id. refusal formats the given name and want's.
func checkCatalogRef(field string, raw json.RawMessage, want ref, refusal string) error {
	var name string
	if json.Unmarshal(raw, &name) != nil {
		var obj struct{ ID, Name string }
		if err := json.Unmarshal(raw, &obj); err != nil {
			return platformapi.InvalidParams("%s must be a name or {\"name\": …}", field)
		}
		name = cmp.Or(obj.Name, obj.ID)
	}
	if name != want.Name && name != want.ID {
		return platformapi.InvalidParams(refusal, name, want.Name)
	}
	return nil
}

func collaboratorJSON(app platform.App) map[string]any {
	return map[string]any{
		"id":          nameUUID("collaborator", app.ID, accountID),
		"app":         ref{ID: app.ID, Name: app.Name},
		"role":        "owner",
		"permissions": []any{},
		"user":        map[string]any{"id": accountID, "email": accountEmail, "federated": false},
		"created_at":  rfc3339(app.CreatedAt),
		"updated_at":  rfc3339(app.CreatedAt),
	}
}

func (a *api) listCollaborators(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, []any{collaboratorJSON(app)})
	return nil
}

func (a *api) getCollaborator(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	c := collaboratorJSON(app)
	if k := strings.ToLower(r.PathValue("collaborator")); k != accountEmail && k != accountID && k != c["id"] {
		return platformapi.NotFound("collaborator", k)
	}
	platformapi.WriteJSON(w, http.StatusOK, c)
	return nil
}
