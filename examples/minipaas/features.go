package main

import (
	"net/http"
	"strings"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// appFeature is one of the app features minipaas knows (Platform API
// app-feature): `heroku features`, `features:info`, `features:enable`,
// `features:disable`.
type appFeature struct {
	name                                    platform.Feature
	displayName, description, docURL, state string // state: general (features) or beta (labs)
}

// appFeatures lists the features an app can turn on: those of Heroku's
// that the platform implements; the others concern Heroku's own runtime.
func appFeatures() []appFeature {
	return []appFeature{{
		name:        platform.Preboot,
		displayName: "Preboot",
		description: "Provide seamless web dyno deploys by starting new web dynos next to the old ones and switching traffic once they are up.",
		docURL:      "https://devcenter.heroku.com/articles/preboot",
		state:       "general",
	}, {
		name:        platform.RuntimeDynoMetadata,
		displayName: "Runtime Dyno Metadata",
		description: "Provide dynos with metadata about the app, release and dyno in HEROKU_* environment variables (from the next restart or deploy).",
		docURL:      "https://devcenter.heroku.com/articles/dyno-metadata",
		state:       "beta",
	}, {
		name:        platform.LogRuntimeMetrics,
		displayName: "Log Runtime Metrics",
		description: "Emit dyno memory usage into the app's log every 20 seconds, for dynos with a dyno size.",
		docURL:      "https://devcenter.heroku.com/articles/log-runtime-metrics",
		state:       "beta",
	}, {
		name:        platform.RuntimeHerokuExec,
		displayName: "Heroku Exec",
		description: "Run commands and shells in running dynos and forward ports to them (heroku ps:exec, ps:forward, ps:socks); needs minipaas started with -exec-addr.",
		docURL:      "https://devcenter.heroku.com/articles/exec",
		state:       "general",
	}}
}

type appFeatureJSON struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	DisplayName   string  `json:"display_name"`
	Description   string  `json:"description"`
	DocURL        string  `json:"doc_url"`
	Enabled       bool    `json:"enabled"`
	State         string  `json:"state"`
	FeedbackEmail *string `json:"feedback_email"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
}

func (a *api) featureRoutes(h func(string, platformapi.HandlerFunc)) {
	h("GET /apps/{app}/features", a.listFeatures)
	h("GET /apps/{app}/features/{feature}", a.getFeature)
	h("PATCH /apps/{app}/features/{feature}", a.patchFeature)
	// OpenTelemetry drains (a Fir-generation feature) are not offered:
	// heroku telemetry lists none rather than failing.
	h("GET /apps/{app}/telemetry-drains", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := a.app(r); err != nil {
			return err
		}
		platformapi.WriteJSON(w, http.StatusOK, []struct{}{})
		return nil
	})
	// No account features: heroku labs lists them, and labs:enable asks
	// for one first and takes a 404 to mean an app feature.
	h("GET /account/features", func(w http.ResponseWriter, r *http.Request) error {
		platformapi.WriteJSON(w, http.StatusOK, []appFeatureJSON{})
		return nil
	})
	// heroku usage:addons: minipaas's add-ons are not metered.
	h("GET /apps/{app}/usage", func(w http.ResponseWriter, r *http.Request) error {
		app, err := a.app(r)
		if err != nil {
			return err
		}
		platformapi.WriteJSON(w, http.StatusOK, map[string]any{"id": app.ID, "addons": []struct{}{}})
		return nil
	})
}

// featureJSON describes f for app, enabled or not.
func (a *api) featureJSON(r *http.Request, app platform.App, f appFeature) (appFeatureJSON, error) {
	on, err := a.p.FeatureOn(r.Context(), app.Name, f.name)
	if err != nil {
		return appFeatureJSON{}, apiError(err)
	}
	return appFeatureJSON{
		ID:   nameUUID("app-feature", string(f.name)),
		Name: string(f.name), DisplayName: f.displayName, Description: f.description, DocURL: f.docURL,
		Enabled: on, State: f.state,
		CreatedAt: rfc3339(app.CreatedAt), UpdatedAt: rfc3339(app.UpdatedAt),
	}, nil
}

// lookupFeature finds the {feature} path value by name or id.
func lookupFeature(r *http.Request) (appFeature, error) {
	key := strings.ToLower(r.PathValue("feature"))
	for _, f := range appFeatures() {
		if string(f.name) == key || nameUUID("app-feature", string(f.name)) == key {
			return f, nil
		}
	}
	return appFeature{}, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Couldn't find that feature.")
}

func (a *api) listFeatures(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var out []appFeatureJSON
	for _, f := range appFeatures() {
		j, err := a.featureJSON(r, app, f)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// appAndFeature resolves the {app} and {feature} path values.
func (a *api) appAndFeature(r *http.Request) (platform.App, appFeature, error) {
	app, err := a.app(r)
	if err != nil {
		return platform.App{}, appFeature{}, err
	}
	f, err := lookupFeature(r)
	return app, f, err
}

// writeFeature answers with f as app has it.
func (a *api) writeFeature(w http.ResponseWriter, r *http.Request, app platform.App, f appFeature) error {
	j, err := a.featureJSON(r, app, f)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

func (a *api) getFeature(w http.ResponseWriter, r *http.Request) error {
	app, f, err := a.appAndFeature(r)
	if err != nil {
		return err
	}
	return a.writeFeature(w, r, app, f)
}

func (a *api) patchFeature(w http.ResponseWriter, r *http.Request) error {
	app, f, err := a.appAndFeature(r)
	if err != nil {
		return err
	}
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if body.Enabled == nil {
		return platformapi.InvalidParams("enabled is required")
	}
	if err := a.p.SetFeature(r.Context(), app.Name, f.name, *body.Enabled); err != nil {
		return apiError(err)
	}
	if app, err = a.app(r); err != nil { // UpdatedAt moved
		return err
	}
	return a.writeFeature(w, r, app, f)
}
