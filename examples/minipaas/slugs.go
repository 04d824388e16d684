package main

import (
	"crypto/hmac"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// Slugs by API (heroku.md §3.2): POST /apps/{app}/slugs records a slug's
// process types and answers with a blob URL to PUT the slug to; POST
// /apps/{app}/releases {"slug": id} releases it. GET
// /apps/{app}/slugs/{id} describes any slug of the app (a build's too)
// with a URL to download it. Blob URLs carry their own secret, like
// Heroku's pre-signed ones.

func (a *api) slugRoutes(h func(string, platformapi.HandlerFunc)) {
	h("POST /apps/{app}/slugs", a.createSlug)
	h("GET /apps/{app}/slugs/{slug}", a.getSlug)
}

const slugBlobsPath = "/slug-blobs/" // + app ID / slug ID / token

type slugJSON struct {
	ID   string `json:"id"`
	Blob struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"blob"`
	BuildpackProvidedDescription *string           `json:"buildpack_provided_description"`
	Checksum                     *string           `json:"checksum"`
	Commit                       *string           `json:"commit"`
	CommitDescription            *string           `json:"commit_description"`
	ProcessTypes                 map[string]string `json:"process_types"`
	Size                         *int64            `json:"size"`
	Stack                        ref               `json:"stack"`
	CreatedAt                    string            `json:"created_at"`
	UpdatedAt                    string            `json:"updated_at"`
}

// slugToJSON describes s; method is "put" for a slug waiting for its
// upload, "get" once it can be downloaded.
func (a *api) slugToJSON(r *http.Request, s platform.Slug) slugJSON {
	j := slugJSON{
		ID:                           s.ID,
		BuildpackProvidedDescription: orNil(s.BuildpackDescription),
		Checksum:                     orNil(s.Checksum),
		Commit:                       orNil(s.Commit),
		CommitDescription:            orNil(s.CommitDescription),
		ProcessTypes:                 s.ProcessTypes,
		Stack:                        stackLocal,
		CreatedAt:                    rfc3339(s.CreatedAt),
		UpdatedAt:                    rfc3339(s.UpdatedAt),
	}
	j.Blob.Method = "put"
	if s.Uploaded {
		j.Blob.Method = "get"
		j.Size = &s.Size
	}
	j.Blob.URL = "http://" + r.Host + slugBlobsPath + s.AppID + "/" + s.ID + "/" + a.p.SlugBlobToken(s.AppID, s.ID)
	return j
}

func (a *api) createSlug(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		ProcessTypes                 map[string]string `json:"process_types"`
		BuildpackProvidedDescription string            `json:"buildpack_provided_description"`
		Checksum                     string            `json:"checksum"`
		Commit                       string            `json:"commit"`
		CommitDescription            string            `json:"commit_description"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	s, err := a.p.CreateSlug(r.Context(), app.Name, platform.SlugRequest{
		ProcessTypes: body.ProcessTypes, Commit: body.Commit, CommitDescription: body.CommitDescription,
		BuildpackDescription: body.BuildpackProvidedDescription, Checksum: body.Checksum,
	})
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.slugToJSON(r, s))
	return nil
}

func (a *api) getSlug(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	s, err := a.p.AppSlug(r.Context(), app.Name, r.PathValue("slug"))
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusOK, a.slugToJSON(r, s))
	return nil
}

// serveSlugBlob answers PUT (the one upload of a slug created by API) and
// GET/HEAD (download) on a slug's blob URL.
func (a *api) serveSlugBlob(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, slugBlobsPath), "/")
	if len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	appID, id, token := parts[0], parts[1], parts[2]
	switch r.Method {
	case http.MethodPut:
		_, err := a.p.UploadSlug(r.Context(), appID, id, token, r.Body)
		var reqErr *platform.FieldError
		switch {
		case errors.Is(err, platform.ErrNotFound):
			http.NotFound(w, r)
		case errors.Is(err, platform.ErrSlugUploaded):
			http.Error(w, "this slug was uploaded already; create a new one", http.StatusConflict)
		case errors.As(err, &reqErr):
			http.Error(w, reqErr.Field+" "+reqErr.Reason, http.StatusUnprocessableEntity)
		case err != nil:
			a.log.Error("slug upload", "slug", id, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusOK)
		}
	case http.MethodGet, http.MethodHead:
		app, ok := a.appByID(r.Context(), appID)
		if !ok || !hmac.Equal([]byte(token), []byte(a.p.SlugBlobToken(appID, id))) {
			http.NotFound(w, r)
			return
		}
		s, err := a.p.AppSlug(r.Context(), app.Name, id)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		rc, err := a.p.OpenSlug(r.Context(), s)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/gzip")
		if r.Method == http.MethodGet {
			_, _ = io.Copy(w, rc)
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
