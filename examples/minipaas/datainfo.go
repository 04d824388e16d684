package main

// The part of Heroku's Data API that heroku pg:info, redis:info,
// pg:credentials and pg:credentials:url read:
// a list of {name, values} rows per database, which the add-on's provider
// reports live (addons.Describer) and minipaas completes with the plan and
// the creation time. The CLI sends these requests to HEROKU_DATA_HOST (a
// host name; the scheme and port stay HEROKU_HOST's), so with
// HEROKU_DATA_HOST=127.0.0.1 they reach the API listener with the API key.
// pg:backups is the Data API's transfers (backups.go).

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/redis"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// dataAddon finds the add-on of service the Data API path names (by id or
// name); another service's is not a database here (404).
func (a *api) dataAddon(r *http.Request, service string) (addonView, error) {
	v, err := a.findAddon("", r.PathValue("addon"))
	if err != nil {
		return addonView{}, err
	}
	if v.rec.Service != service {
		return addonView{}, platformapi.NotFound("database", r.PathValue("addon"))
	}
	return v, nil
}

func (a *api) dataRoutes(h func(string, platformapi.HandlerFunc)) {
	h("GET /client/v11/databases/{addon}", a.databaseInfo(servicePostgres))
	h("GET /redis/v0/databases/{addon}", a.databaseInfo(serviceRedis))
	h("GET /postgres/v0/databases/{addon}/credentials", a.credentials)
	h("GET /postgres/v0/databases/{addon}/credentials/{name}", a.credential)
	h("POST /postgres/v0/databases/{addon}/credentials", a.createCredential)
	h("DELETE /postgres/v0/databases/{addon}/credentials/{name}", a.destroyCredential)
	h("POST /postgres/v0/databases/{addon}/credentials/{name}/credentials_rotation", a.rotateCredentials(servicePostgres))
	h("POST /postgres/v0/databases/{addon}/credentials_rotation", a.rotateCredentials(servicePostgres))
	h("POST /redis/v0/databases/{addon}/credentials_rotation", a.rotateCredentials(serviceRedis))
	h("POST /postgres/v0/databases/{addon}/repair-default", a.repairDefaultCredential)
	h("GET /postgres/v0/databases/{addon}/config", a.databaseSettings)
	h("PATCH /postgres/v0/databases/{addon}/config", a.databaseSettings)
	h("GET /data/maintenances/v1/apps/{app}", a.dataMaintenances)
	h("POST /client/v11/databases/{addon}/connection-pooling", a.connectionPooling)
	h("GET /client/v11/databases/{addon}/wait_status", a.waitStatus(servicePostgres))
	h("GET /redis/v0/databases/{addon}/wait", a.waitStatus(serviceRedis))
	h("GET /client/v11/databases/{addon}/links", a.databaseLinks)
	h("POST /client/v11/databases/{addon}/connection_reset", a.connectionReset)
	h("PATCH /redis/v0/databases/{addon}/config", a.redisConfig)
	h("POST /reports", a.createDiagnoseReport)
	h("GET /reports/{id}", a.diagnoseReport)
	h("GET /client/v11/databases/{addon}/metrics", a.databaseEmpty)
	h("GET /client/v11/databases/{addon}/burst_status", a.databaseEmpty)
	for _, step := range []string{"prepare", "run", "dry_run"} {
		h("POST /client/v11/databases/{addon}/upgrade/"+step, a.refuseUpgrade)
	}
	h("GET /client/v11/databases/{addon}/upgrade/wait_status", a.refuseUpgrade)
}

// databaseEmpty answers what pg:diagnose reads of a Standard database
// besides the checks, the server's load metrics and CPU burst state:
// minipaas databases share one server and report neither (an empty
// object, which the CLI takes for "none").
func (a *api) databaseEmpty(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.dataAddon(r, servicePostgres); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// refuseUpgrade answers heroku pg:upgrade: a database's major version is
// its server's, which every minipaas database shares.
func (a *api) refuseUpgrade(w http.ResponseWriter, r *http.Request) error {
	v, err := a.dataAddon(r, servicePostgres)
	if err != nil {
		return err
	}
	return platformapi.InvalidParams("%s shares its PostgreSQL server with other add-ons: its major version is the server's, upgraded by its operator", v.rec.Name)
}

// connectionReset answers pg:killall: every connection to the database
// closed (the apps reconnect).
func (a *api) connectionReset(w http.ResponseWriter, r *http.Request) error {
	v, err := a.dataAddon(r, servicePostgres)
	if err != nil {
		return err
	}
	n, err := a.addons.m.ResetConnections(r.Context(), v.rec.Name)
	if err != nil {
		return a.addons.apiError(err, "close the connections of "+v.rec.Name)
	}
	platformapi.WriteJSON(w, http.StatusOK, map[string]any{"message": fmt.Sprintf("Closed %d connections to %s", n, v.rec.Name)})
	return nil
}

// databaseLinks answers pg:links: minipaas databases have no links.
func (a *api) databaseLinks(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.dataAddon(r, servicePostgres); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, []struct{}{})
	return nil
}

// redisConfig answers redis:maxmemory, redis:timeout and
// redis:keyspace-notifications, which set server-wide settings: refused,
// as every minipaas Redis add-on is an ACL user on one shared server.
func (a *api) redisConfig(w http.ResponseWriter, r *http.Request) error {
	v, err := a.dataAddon(r, serviceRedis)
	if err != nil {
		return err
	}
	return platformapi.InvalidParams("%s shares its Redis server with other add-ons (an ACL user and key prefix each): maxmemory policy, timeout and keyspace notifications are the server's, set by its operator", v.rec.Name)
}

// waitStatus answers pg:wait and redis:wait. minipaas provisions
// synchronously and restores its add-ons before serving, so a database
// is available, or it could not be restored at the start: an error, not
// a wait. (redis:wait has no error field and takes a 404 for "wait", so
// there the error is a 503.)
func (a *api) waitStatus(service string) platformapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := a.dataAddon(r, service)
		if err != nil {
			return err
		}
		const notRestored = "could not be restored when minipaas started (see its log)"
		status := struct {
			Waiting bool   `json:"waiting?"`
			Error   bool   `json:"error?"`
			Message string `json:"message"`
		}{Message: "available"}
		if !v.live {
			if service == serviceRedis {
				return platformapi.Errorf(http.StatusServiceUnavailable, platformapi.IDServiceUnavailable, "%s %s", v.rec.Name, notRestored)
			}
			status.Error, status.Message = true, notRestored
		}
		platformapi.WriteJSON(w, http.StatusOK, status)
		return nil
	}
}

// rotateCredentials answers pg:credentials:rotate (by name: a named
// credential; else the default one) and redis:credentials --reset: a new
// password, the attached apps' config vars changed in a release each
// (their dynos restart on it), nothing changed if any step fails.
func (a *api) rotateCredentials(service string) platformapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := a.dataAddon(r, service)
		if err != nil {
			return err
		}
		if name := r.PathValue("name"); name != "" && name != "default" {
			// A named credential: the apps it is attached to (addons:attach
			// --credential) get its new URL.
			if _, err := a.addons.m.RotateCredential(r.Context(), v.rec.Name, name); err != nil {
				return a.namedCredentialError(err, name, "rotate", v)
			}
			platformapi.WriteJSON(w, http.StatusOK, map[string]string{"message": "Rotated credential " + name + " of " + v.rec.Name})
			return nil
		}
		if _, err := a.addons.m.RotateCredentials(r.Context(), v.rec.Name); err != nil {
			return a.addons.apiError(err, "rotate the credentials of "+v.rec.Name)
		}
		a.addons.notify(r.Context(), addonEvent{Action: platform.ActionUpdate, Addon: a.addons.view(v.rec), App: v.rec.App})
		platformapi.WriteJSON(w, http.StatusOK, map[string]string{"message": "Rotated the default credential of " + v.rec.Name})
		return nil
	}
}

// connectionPooling answers pg:connection-pooling:attach: the database
// attached to the app through the PgBouncer minipaas runs, as
// DATABASE_CONNECTION_POOL unless the CLI's --as names it.
func (a *api) connectionPooling(w http.ResponseWriter, r *http.Request) error {
	v, err := a.dataAddon(r, servicePostgres)
	if err != nil {
		return err
	}
	var body struct {
		App        string `json:"app"`
		Credential string `json:"credential"`
		Name       string `json:"name"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if body.Credential != "" && body.Credential != "default" {
		return platformapi.InvalidParams("connection pooling is for the default credential only, not %q", truncate(body.Credential, 60))
	}
	app, err := a.appByNameOrID(r.Context(), body.App)
	if err != nil {
		return err
	}
	as := cmp.Or(strings.ToUpper(strings.TrimSpace(body.Name)), "DATABASE_CONNECTION_POOL")
	at, err := a.addons.attach(r.Context(), v.rec.Name, app.Name, as, "", true)
	if err != nil {
		return err
	}
	return a.writeNewAttachment(w, r, v.rec.Name, at)
}

// dataMaintenances answers heroku data:maintenances: none. minipaas
// schedules no maintenance of its add-ons; their servers' upkeep is their
// operator's.
func (a *api) dataMaintenances(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.appByNameOrID(r.Context(), r.PathValue("app")); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, map[string][]any{"maintenances": {}})
	return nil
}

// repairDefaultCredential answers pg:credentials:repair-default: what
// the named credentials own passes to the default one.
func (a *api) repairDefaultCredential(w http.ResponseWriter, r *http.Request) error {
	v, err := a.dataAddon(r, servicePostgres)
	if err != nil {
		return err
	}
	if err := a.addons.m.RepairDefaultCredential(r.Context(), v.rec.Name); err != nil {
		return a.addons.apiError(err, "repair the default credential of "+v.rec.Name)
	}
	platformapi.WriteJSON(w, http.StatusOK, map[string]string{"message": "Repaired the default credential of " + v.rec.Name})
	return nil
}

// databaseSettings answers pg:settings (GET) and its setters (PATCH, a
// JSON object of setting names and values): every setting of the
// database, by name, as {"value": …, "desc": …, "values": {…}}.
func (a *api) databaseSettings(w http.ResponseWriter, r *http.Request) error {
	v, err := a.dataAddon(r, servicePostgres)
	if err != nil {
		return err
	}
	var list []addons.Setting
	what := "read the settings of "
	if r.Method == http.MethodPatch {
		what = "change the settings of "
		var body map[string]any
		if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
			return err
		}
		changes := make(map[string]string, len(body))
		for name, value := range body {
			switch value := value.(type) {
			case string:
				changes[name] = value
			case bool:
				changes[name] = strconv.FormatBool(value)
			case float64:
				changes[name] = strconv.FormatFloat(value, 'f', -1, 64)
			default:
				return platformapi.InvalidParams("setting %q: want a string, a number or a boolean", truncate(name, 80))
			}
		}
		list, err = a.addons.m.UpdateSettings(r.Context(), v.rec.Name, changes)
	} else {
		list, err = a.addons.m.Settings(r.Context(), v.rec.Name)
	}
	if err != nil {
		return a.addons.apiError(err, what+v.rec.Name)
	}
	type settingJSON struct {
		Value  any               `json:"value"`
		Desc   string            `json:"desc"`
		Values map[string]string `json:"values,omitempty"`
	}
	out := make(map[string]settingJSON, len(list))
	for _, s := range list {
		out[s.Name] = settingJSON{Value: s.Value, Desc: s.Description, Values: s.Values}
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// credentialJSON is a database's credential as pg:credentials and
// pg:credentials:url read it: "default" (the role DATABASE_URL names) and
// the named ones (pg:credentials:create), when the provider has them.
type credentialJSON struct {
	Name        string           `json:"name"`
	State       string           `json:"state"`
	Database    string           `json:"database"`
	Host        string           `json:"host"`
	Port        int              `json:"port"`
	UUID        string           `json:"uuid"`
	Credentials []credentialUser `json:"credentials"`
}

type credentialUser struct {
	User     string `json:"user"`
	Password string `json:"password"`
	State    string `json:"state"`
}

// credentialFromURL describes the credential name of add-on v whose URL
// is dbURL.
func credentialFromURL(v addonView, name, dbURL string) (credentialJSON, bool) {
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		return credentialJSON{}, false
	}
	port, _ := strconv.Atoi(cmp.Or(u.Port(), "5432"))
	c := credentialJSON{Name: name, State: "active", Database: strings.TrimPrefix(u.Path, "/"), Host: u.Hostname(), Port: port,
		UUID: nameUUID("credential", v.rec.ID, name)}
	pw, _ := u.User.Password()
	c.Credentials = []credentialUser{{User: u.User.Username(), Password: pw, State: "active"}}
	return c, true
}

// namedCredentialError is the API error for a failed operation (what) on
// add-on v's named credential name: a 404 when the provider has none or
// not that one, others as API errors for "<what> credential …".
func (a *api) namedCredentialError(err error, name, what string, v addonView) error {
	if errors.Is(err, addons.ErrNotFound) {
		return credentialNotFound(name)
	}
	return a.addons.apiError(err, what+" credential "+truncate(name, 60)+" of "+v.rec.Name)
}

// credentialNotFound is the 404 for a credential name, worded as Heroku's.
func credentialNotFound(name string) error {
	return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Couldn't find credential %q.", truncate(name, 60))
}

// credentialManager is the add-on's provider's, with the resource id, or
// nil when the provider has no named credentials.
func (a *api) credentialManager(v addonView) (addons.CredentialManager, string) {
	svc, id, err := a.addons.m.ResourceID(v.rec.Name)
	if err != nil {
		return nil, ""
	}
	cm, _ := svc.Provider.(addons.CredentialManager)
	return cm, id
}

// allCredentials lists the database's credentials, "default" first.
func (a *api) allCredentials(r *http.Request) (addonView, []credentialJSON, error) {
	v, err := a.dataAddon(r, servicePostgres)
	if err != nil {
		return v, nil, err
	}
	def, ok := credentialFromURL(v, "default", a.resourceURL(r.Context(), v))
	if !ok {
		return v, nil, platformapi.NotFound("database", v.rec.Name)
	}
	list := []credentialJSON{def}
	if cm, id := a.credentialManager(v); cm != nil {
		named, err := cm.Credentials(r.Context(), id)
		if err != nil {
			return v, nil, a.addons.apiError(err, "list the credentials of "+v.rec.Name)
		}
		for _, c := range named {
			if j, ok := credentialFromURL(v, c.Name, c.URL); ok {
				list = append(list, j)
			}
		}
	}
	return v, list, nil
}

// credentials answers pg:credentials: the database's credentials.
func (a *api) credentials(w http.ResponseWriter, r *http.Request) error {
	_, list, err := a.allCredentials(r)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, list)
	return nil
}

// credential answers pg:credentials:url: one credential with its password.
func (a *api) credential(w http.ResponseWriter, r *http.Request) error {
	_, list, err := a.allCredentials(r)
	if err != nil {
		return err
	}
	for _, c := range list {
		if c.Name == r.PathValue("name") {
			platformapi.WriteJSON(w, http.StatusOK, c)
			return nil
		}
	}
	return credentialNotFound(r.PathValue("name"))
}

// createCredential answers pg:credentials:create (the CLI refuses it on
// Essential plans, as Heroku does): a named credential with no privileges
// until the default one grants them.
func (a *api) createCredential(w http.ResponseWriter, r *http.Request) error {
	v, err := a.dataAddon(r, servicePostgres)
	if err != nil {
		return err
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	cm, id := a.credentialManager(v)
	if cm == nil {
		return platformapi.InvalidParams("%s cannot have named credentials", v.rec.Name)
	}
	c, err := cm.CreateCredential(r.Context(), id, body.Name)
	if err != nil {
		return a.addons.apiError(err, "create credential "+truncate(body.Name, 60)+" of "+v.rec.Name)
	}
	j, _ := credentialFromURL(v, c.Name, c.URL)
	platformapi.WriteJSON(w, http.StatusCreated, j)
	return nil
}

// destroyCredential answers pg:credentials:destroy; a credential still
// attached to an app (addons:attach --credential) is refused, as the CLI
// refuses it too.
func (a *api) destroyCredential(w http.ResponseWriter, r *http.Request) error {
	v, err := a.dataAddon(r, servicePostgres)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if name == "default" {
		return platformapi.InvalidParams("the default credential cannot be destroyed")
	}
	if err := a.addons.m.DestroyCredential(r.Context(), v.rec.Name, name); err != nil {
		return a.namedCredentialError(err, name, "destroy", v)
	}
	platformapi.WriteJSON(w, http.StatusOK, map[string]string{"message": "Destroyed credential " + name + " of " + v.rec.Name})
	return nil
}

// infoRow is one row of pg:info or redis:info.
type infoRow struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

type databaseInfoJSON struct {
	AddonID     string `json:"addon_id"`
	Name        string `json:"name"`
	Plan        string `json:"plan"`
	CreatedAt   string `json:"created_at"`
	ResourceURL string `json:"resource_url"`
	// PreferNativeTLS makes redis:cli open TLS to resource_url's own port
	// (not the next one, where Heroku's older plans had stunnel).
	PreferNativeTLS bool      `json:"prefer_native_tls,omitempty"`
	Info            []infoRow `json:"info"`
}

// databaseInfo answers the Data API's info of one add-on of service (by
// id, as pg:info asks, or name, as redis:info does).
func (a *api) databaseInfo(service string) platformapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		v, err := a.dataAddon(r, service)
		if err != nil {
			return err
		}
		facts, err := a.addons.m.Describe(ctx, v.rec.Name)
		switch {
		case errors.Is(err, addons.ErrNotFound):
			// pg:info then says the database is not provisioned yet.
			return platformapi.NotFound("database", v.rec.Name)
		case errors.Is(err, addons.ErrDescribeUnsupported):
			return platformapi.Errorf(http.StatusUnprocessableEntity, platformapi.IDInvalidParams, "%s cannot report on %s", service, v.rec.Name)
		case err != nil:
			return a.addons.apiError(err, "describe "+v.rec.Name)
		}
		j := databaseInfoJSON{
			AddonID: v.rec.ID, Name: v.rec.Name, Plan: v.rec.Service + ":" + v.rec.Plan,
			CreatedAt: rfc3339(v.rec.CreatedAt), ResourceURL: a.resourceURL(ctx, v),
		}
		if service == serviceRedis {
			a.redisGatewayURL(&j)
		}
		j.Info = append(j.Info, infoRow{Name: "Plan", Values: []string{planTitle(v.rec.Plan)}})
		for _, f := range facts {
			j.Info = append(j.Info, infoRow{Name: f.Name, Values: append([]string{}, f.Values...)})
		}
		if service == servicePostgres && a.addons.poolerAddr != "" {
			// As Heroku's pg:info: pg:connection-pooling:attach works.
			j.Info = append(j.Info, infoRow{Name: "Connection Pooling", Values: []string{"Available"}})
		}
		j.Info = append(j.Info, infoRow{Name: "Created", Values: []string{v.rec.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")}})
		platformapi.WriteJSON(w, http.StatusOK, j)
		return nil
	}
}

// resourceURL is the add-on's URL as its billing app's config holds it,
// which pg:info matches against the config to name the database's vars.
func (a *api) resourceURL(ctx context.Context, v addonView) string {
	cfg, err := a.p.Config(ctx, v.rec.App)
	if err != nil {
		return ""
	}
	return cfg[v.rec.Attachment+"_URL"]
}

// redisGatewayURL points redis:cli and redis:credentials at the Redis
// gateway on the rendezvous: the CLI authenticates with a password alone
// (AUTH <password>), which an add-on's ACL user cannot take directly.
func (a *api) redisGatewayURL(j *databaseInfoJSON) {
	if a.addons.redisGateway == nil || j.ResourceURL == "" {
		return
	}
	if u, err := redis.GatewayURL(j.ResourceURL, a.runAddr); err == nil {
		j.ResourceURL, j.PreferNativeTLS = u, true
	}
}

// planTitle is a plan as Heroku titles it: "essential-0" → "Essential 0".
func planTitle(plan string) string {
	words := strings.Split(plan, "-")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}
