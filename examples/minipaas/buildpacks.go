package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/dynokit/dynokit/buildpack/builtin"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// An app's buildpacks (heroku.md §2.4): `heroku buildpacks`,
// buildpacks:set, :add, :remove and :clear read the list with GET
// /apps/{app}/buildpack-installations and write all of it back with PUT.
// minipaas has no buildpack fetcher, so the list may only name its builtin
// buildpacks, in any spelling builtinBuildpackFor understands; the next
// push builds with exactly those, in order, each of which must detect. An
// empty list means detection. On an app's first push the app's list wins
// over app.json's buildpacks (which only apply when the list is empty), as
// on Heroku, where app.json is read only by app setups and a git push
// builds with the app's buildpacks.
//
// The CLI turns a name such as heroku/go into a URL by asking the Buildpack
// Registry (HEROKU_BUILDPACK_REGISTRY_URL, default
// buildpack-registry.heroku.com, unauthenticated). minipaas answers that
// question too, under registryPrefix, for its builtin buildpacks, so the
// CLI works offline:
//
//	export HEROKU_BUILDPACK_REGISTRY_URL=$HEROKU_HOST/buildpack-registry

// registryPrefix is where minipaas serves its Buildpack Registry subset.
const registryPrefix = "/buildpack-registry"

// registryBlobURL is the URL the Buildpack Registry gives for a registry
// name; the CLI shows such URLs by their name again. Only an identifier
// here: builtinBuildpackFor maps it back, and nothing is downloaded.
func registryBlobURL(name string) string { return registryBlobPrefix + name + ".tgz" }

const registryBlobPrefix = "https://buildpack-registry.s3.amazonaws.com/buildpacks/"

// builtinRegistryNames lists the builtin buildpacks by registry name, for
// messages: "heroku/go, heroku/nodejs, …".
func builtinRegistryNames() string {
	var names []string
	for _, n := range builtin.Names() {
		names = append(names, "heroku/"+n)
	}
	return strings.Join(names, ", ")
}

func (a *api) buildpackRoutes(h func(string, platformapi.HandlerFunc)) {
	h("GET /apps/{app}/buildpack-installations", a.listBuildpacks)
	h("PUT /apps/{app}/buildpack-installations", a.putBuildpacks)
}

type buildpackInstallationJSON struct {
	Buildpack struct {
		URL  string `json:"url"`
		Name string `json:"name"`
	} `json:"buildpack"`
	Ordinal int `json:"ordinal"`
}

func buildpacksJSON(list []platform.BuildpackInstallation) []buildpackInstallationJSON {
	out := make([]buildpackInstallationJSON, 0, len(list))
	for i, b := range list {
		var j buildpackInstallationJSON
		j.Buildpack.URL = b.URL
		j.Buildpack.Name = "heroku/" + b.Builtin
		j.Ordinal = i
		out = append(out, j)
	}
	return out
}

func (a *api) listBuildpacks(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	list, err := a.p.Buildpacks(r.Context(), app.Name)
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusOK, buildpacksJSON(list))
	return nil
}

func (a *api) putBuildpacks(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		Updates *[]struct {
			Buildpack *string `json:"buildpack"`
		} `json:"updates"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if body.Updates == nil {
		return platformapi.InvalidParams("updates is required: a list of {\"buildpack\": <name or URL>}, empty to clear")
	}
	refs := make([]string, 0, len(*body.Updates))
	for _, u := range *body.Updates {
		ref := "" // none given: setBuildpacks says so
		if u.Buildpack != nil {
			ref = *u.Buildpack
		}
		refs = append(refs, ref)
	}
	list, err := a.setBuildpacks(r.Context(), app, refs)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, buildpacksJSON(list))
	return nil
}

// setBuildpacks replaces app's buildpack list with refs (URLs or registry
// names, in order; none clears it): the core of PUT
// /apps/{app}/buildpack-installations, which the dashboard shares. Its
// errors are API errors.
func (a *api) setBuildpacks(ctx context.Context, app platform.App, refs []string) ([]platform.BuildpackInstallation, error) {
	var list []platform.BuildpackInstallation
	for i, ref := range refs {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			// The CLI sends no buildpack when the Buildpack Registry it
			// asked does not know the name it was given.
			return nil, platformapi.InvalidParams("updates[%d]: no buildpack given (the heroku CLI sends none when the Buildpack Registry does not know the name; point HEROKU_BUILDPACK_REGISTRY_URL at <API URL>%s). Buildpacks available on minipaas: %s.", i, registryPrefix, builtinRegistryNames())
		}
		name, ok := builtinBuildpackFor(ref)
		if !ok {
			return nil, platformapi.InvalidParams("Buildpack %s is not available on minipaas, which builds only with its builtin buildpacks: %s (or the GitHub URLs of Heroku's classic ones).", displayName(ref), builtinRegistryNames())
		}
		list = append(list, platform.BuildpackInstallation{URL: ref, Builtin: name})
	}
	list, err := a.p.SetBuildpacks(ctx, app.Name, list)
	var bpErr *platform.BuildpackError
	if errors.As(err, &bpErr) {
		return nil, platformapi.InvalidParams("%s", strings.TrimPrefix(err.Error(), "platform: "))
	}
	if err != nil {
		return nil, apiError(err)
	}
	return list, nil
}

// withBuildpackRegistry serves the Buildpack Registry's read endpoints the
// CLI uses (buildpacks:set/add resolve a name, buildpacks:info,
// buildpacks:versions, buildpacks:search) without authentication, as the
// public registry does (the CLI sends no key there), and passes every
// other request to next.
func withBuildpackRegistry(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+registryPrefix+"/buildpacks/{id}", registryBuildpack)
	mux.HandleFunc("GET "+registryPrefix+"/buildpacks/{id}/revisions", registryRevisions)
	mux.HandleFunc("GET "+registryPrefix+"/buildpacks/{id}/readme", registryReadme)
	mux.HandleFunc("GET "+registryPrefix+"/buildpacks", registrySearch)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, registryPrefix+"/") {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Request-Id", platformapi.RequestID(r))
		if _, pattern := mux.Handler(r); pattern == "" {
			platformapi.WriteError(w, nil, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "The buildpack registry of minipaas answers GET %s/buildpacks/<namespace>%%2F<name> only.", registryPrefix))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// registryBuildpack answers the CLI's "does this buildpack exist" with the
// one field the CLI reads, blob_url. It answers for any well-formed name,
// builtin or not: the real registry would 404 an unknown one and the CLI
// would then send no buildpack at all, so the PUT could not say which
// buildpack it refuses. The CLI requests /buildpacks/heroku%2Fgo;
// ServeMux unescapes the segment.
func registryBuildpack(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	namespace, name, ok := strings.Cut(id, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		platformapi.WriteError(w, nil, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound,
			"%q is not a buildpack name (namespace/name); minipaas has %s.", id, builtinRegistryNames()))
		return
	}
	platformapi.WriteJSON(w, http.StatusOK, registryEntry(namespace, name))
}

// registryEntry is a registry buildpack as the registry shows it.
func registryEntry(namespace, name string) map[string]any {
	id := namespace + "/" + name
	desc := "not available on minipaas"
	if b, ok := builtinBuildpackFor(id); ok {
		desc = fmt.Sprintf("minipaas's builtin %s buildpack (%s)", b, builtin.Label(b))
	}
	return map[string]any{
		"id":          nameUUID("buildpack", id),
		"name":        name,
		"namespace":   namespace,
		"blob_url":    registryBlobURL(id),
		"description": desc,
		"category":    "languages",
		// buildpacks:info shows these as support and source.
		"support": map[string]string{"method": "website", "address": "https://pkg.go.dev/github.com/dynokit/dynokit/buildpack/builtin"},
		"source":  map[string]string{"type": "github", "owner": "dynokit", "repo": "dynokit"},
	}
}

// builtinRegistryID is id ("heroku%2Fgo", unescaped by ServeMux) when it
// names a builtin buildpack; otherwise it answers 404 and reports false.
func builtinRegistryID(w http.ResponseWriter, id string) (builtinName string, ok bool) {
	b, ok := builtinBuildpackFor(id)
	if !ok || !strings.Contains(id, "/") {
		platformapi.WriteError(w, nil, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound,
			"%q is not a buildpack minipaas has (%s).", id, builtinRegistryNames()))
		return "", false
	}
	return b, true
}

// registryRevisions answers buildpacks:versions (and buildpacks:info's
// license): a builtin buildpack has one release, the one built into this
// binary.
func registryRevisions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := builtinRegistryID(w, id); !ok {
		return
	}
	platformapi.WriteJSON(w, http.StatusOK, []map[string]any{{
		"id": nameUUID("buildpack-revision", id), "release": 1, "status": "published",
		"license": "Apache-2.0", "published_by": "dynokit",
	}})
}

// registryReadme answers buildpacks:info's readme, base64 as the registry
// sends it.
func registryReadme(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	b, ok := builtinRegistryID(w, id)
	if !ok {
		return
	}
	text := fmt.Sprintf("%s is minipaas's builtin %s buildpack (%s), part of the minipaas binary: it needs no download and has no versions of its own.\n", id, b, builtin.Label(b))
	platformapi.WriteJSON(w, http.StatusOK, map[string]string{"content": base64.StdEncoding.EncodeToString([]byte(text)), "encoding": "base64"})
}

// registrySearch answers buildpacks:search among the builtin buildpacks:
// in[namespace][] and in[name][] each match any of their values,
// like[description] a part of the description (any case), and all given
// filters must hold.
func registrySearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []map[string]any{}
	for _, n := range builtin.Names() {
		e := registryEntry("heroku", n)
		if ns := q["in[namespace][]"]; len(ns) > 0 && !slices.Contains(ns, "heroku") {
			continue
		}
		if names := q["in[name][]"]; len(names) > 0 && !slices.Contains(names, n) {
			continue
		}
		if like := q.Get("like[description]"); like != "" && !strings.Contains(strings.ToLower(e["description"].(string)), strings.ToLower(like)) {
			continue
		}
		out = append(out, e)
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
}

// displayName is how the CLI shows a buildpack URL: a registry blob URL by
// its registry name.
func displayName(url string) string {
	if after, ok := strings.CutPrefix(url, registryBlobPrefix); ok && strings.HasSuffix(url, ".tgz") {
		return strings.TrimSuffix(after, ".tgz")
	}
	return url
}
