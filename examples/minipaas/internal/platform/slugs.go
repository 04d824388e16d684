package platform

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/procfile"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/slug"
)

// Slugs by API (heroku.md §3.2): CreateSlug records a slug's process types
// and hands out an upload token; UploadSlug takes the slug's bytes once,
// checks them as a dyno start would (they must extract, and match the
// declared checksum) and stores them; ReleaseSlug then releases it. A slug
// made by a build is known by its digest (its release's slug ID); one
// created by API by the ID CreateSlug gave it.

// Slug describes a slug of an app.
type Slug struct {
	ID           string            `json:"id"`
	AppID        string            `json:"app_id"`
	ProcessTypes map[string]string `json:"process_types"`
	Commit       string            `json:"commit,omitempty"`
	// CommitDescription and BuildpackDescription are the caller's words.
	CommitDescription    string `json:"commit_description,omitempty"`
	BuildpackDescription string `json:"buildpack_provided_description,omitempty"`
	// Checksum is "SHA256:<hex>" of the compressed slug: declared at
	// creation (the upload must match) or learnt from the upload; empty
	// until then.
	Checksum  string    `json:"checksum,omitempty"`
	Size      int64     `json:"size,omitempty"` // compressed bytes, once uploaded
	Uploaded  bool      `json:"uploaded"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SlugRequest is what CreateSlug records.
type SlugRequest struct {
	ProcessTypes                                              map[string]string
	Commit, CommitDescription, BuildpackDescription, Checksum string
}

const slugsNS = "minipaas.slugs" // keyed by app ID + "/" + slug ID

// ErrSlugUploaded is UploadSlug's answer for a slug already uploaded.
var ErrSlugUploaded = errors.New("platform: slug already uploaded")

// CreateSlug records a slug of app to be uploaded with UploadSlug. Process
// types are required and named as the Platform API names them
// (procfile.ValidateName); a checksum, when given, must be "SHA256:<hex>".
// Bad fields are a *FieldError naming them.
func (p *Platform) CreateSlug(ctx context.Context, app string, req SlugRequest) (Slug, error) {
	if len(req.ProcessTypes) == 0 {
		return Slug{}, &FieldError{Field: "process_types", Reason: `is required: {"web": "<command>", …}`}
	}
	for _, t := range slices.Sorted(maps.Keys(req.ProcessTypes)) {
		if err := procfile.ValidateName(t); err != nil {
			return Slug{}, &FieldError{Field: "process_types", Reason: strings.TrimPrefix(err.Error(), "procfile: ")}
		}
		if strings.TrimSpace(req.ProcessTypes[t]) == "" {
			return Slug{}, &FieldError{Field: "process_types." + t, Reason: "has no command"}
		}
	}
	if req.Checksum != "" {
		d, err := slug.ParseDigest(req.Checksum)
		if err != nil {
			return Slug{}, &FieldError{Field: "checksum", Reason: strings.TrimPrefix(err.Error(), "slug: ")}
		}
		req.Checksum = d.String()
	}
	_, rec, err := p.entry(app)
	if err != nil {
		return Slug{}, err
	}
	now := time.Now().UTC()
	s := Slug{
		ID: newID(), AppID: rec.ID, ProcessTypes: maps.Clone(req.ProcessTypes),
		Commit: req.Commit, CommitDescription: req.CommitDescription, BuildpackDescription: req.BuildpackDescription,
		Checksum: req.Checksum, CreatedAt: now, UpdatedAt: now,
	}
	if err := p.putSlug(ctx, s); err != nil {
		return Slug{}, fmt.Errorf("platform: create slug of %s: %w", app, err)
	}
	return s, nil
}

func (p *Platform) putSlug(ctx context.Context, s Slug) error {
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return p.kv.Update(ctx, func(tx store.Tx) error { return tx.Put(slugsNS, []byte(s.AppID+"/"+s.ID), v) })
}

func (p *Platform) slugRecord(ctx context.Context, appID, id string) (Slug, error) {
	var s Slug
	err := p.kv.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(slugsNS, []byte(appID+"/"+id))
		if err != nil {
			return err
		}
		return json.Unmarshal(v, &s)
	})
	if errors.Is(err, store.ErrNotFound) {
		return Slug{}, fmt.Errorf("platform: slug %q: %w", id, ErrNotFound)
	}
	return s, err
}

// SlugBlobToken authorises reading (any slug) and the one upload (a slug
// created by API) of slug id of the app with ID appID, for clients
// without the API token.
func (p *Platform) SlugBlobToken(appID, id string) string {
	return p.urlToken("slug", appID, id)
}

// UploadSlug takes the bytes of slug id of the app with ID appID, once.
// They must be a slug that extracts (with slug.Extract's checks) and, if
// a checksum was declared, have it; the slug is then stored for releases.
// A wrong token (SlugBlobToken) is ErrNotFound.
func (p *Platform) UploadSlug(ctx context.Context, appID, id, token string, r io.Reader) (Slug, error) {
	if !hmac.Equal([]byte(token), []byte(p.SlugBlobToken(appID, id))) {
		return Slug{}, fmt.Errorf("platform: slug %q: %w", id, ErrNotFound)
	}
	s, err := p.slugRecord(ctx, appID, id)
	if err != nil {
		return Slug{}, err
	}
	if s.Uploaded {
		return s, fmt.Errorf("%w: slug %s", ErrSlugUploaded, id)
	}
	f, err := os.CreateTemp(filepath.Join(p.cfg.DataDir, "tmp"), "upload-*.tgz")
	if err != nil {
		return Slug{}, fmt.Errorf("platform: upload slug: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	lim := slug.DefaultMaxCompressedSize
	n, err := io.Copy(f, io.LimitReader(r, lim+1))
	if err != nil {
		return Slug{}, fmt.Errorf("platform: upload slug: %w", err)
	}
	if n > lim {
		return Slug{}, &FieldError{Field: "slug", Reason: fmt.Sprintf("is over the limit of %s", slug.FormatSize(lim))}
	}
	// The checks a dyno start makes, now: a slug that cannot run is
	// refused at upload, not at release.
	check, err := os.MkdirTemp(filepath.Join(p.cfg.DataDir, "tmp"), "slug-check-")
	if err != nil {
		return Slug{}, fmt.Errorf("platform: upload slug: %w", err)
	}
	defer os.RemoveAll(check)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Slug{}, fmt.Errorf("platform: upload slug: %w", err)
	}
	info, err := slug.Extract(ctx, f, filepath.Join(check, "app"), slug.ExtractOptions{Want: slug.Digest(s.Checksum), Logger: p.log})
	if err != nil {
		return Slug{}, &FieldError{Field: "slug", Reason: strings.TrimPrefix(err.Error(), "slug: ")}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Slug{}, fmt.Errorf("platform: upload slug: %w", err)
	}
	if _, err := p.slugs.Put(ctx, f, info.Digest); err != nil {
		return Slug{}, fmt.Errorf("platform: store slug: %w", err)
	}
	s.Checksum, s.Size, s.Uploaded, s.UpdatedAt = info.Digest.String(), info.Size, true, time.Now().UTC()
	if err := p.putSlug(ctx, s); err != nil {
		return Slug{}, fmt.Errorf("platform: upload slug: %w", err)
	}
	return s, nil
}

// AppSlug describes slug id of app: one created by API, or one a release
// of the app ran (by its digest, the release's slug ID).
func (p *Platform) AppSlug(ctx context.Context, app, id string) (Slug, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return Slug{}, err
	}
	if s, err := p.slugRecord(ctx, rec.ID, id); err == nil {
		return s, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Slug{}, fmt.Errorf("platform: slug %q of %s: %w", id, app, err)
	}
	r, err := p.releaseOfSlug(ctx, app, id)
	if err != nil {
		return Slug{}, err
	}
	s := Slug{ID: id, AppID: rec.ID, ProcessTypes: r.ProcessTypes, Commit: r.Commit, Checksum: r.Slug.Checksum, Uploaded: true, CreatedAt: r.CreatedAt, UpdatedAt: r.CreatedAt}
	if d, err := slug.ParseDigest(r.Slug.Checksum); err == nil {
		if info, err := p.slugs.Stat(ctx, d); err == nil {
			s.Size = info.Size
		}
	}
	return s, nil
}

// OpenSlug opens the stored bytes of an uploaded or built slug.
func (p *Platform) OpenSlug(ctx context.Context, s Slug) (io.ReadCloser, error) {
	d, err := slug.ParseDigest(s.Checksum)
	if err != nil || !s.Uploaded {
		return nil, fmt.Errorf("platform: slug %s has not been uploaded: %w", s.ID, ErrNotFound)
	}
	rc, _, err := p.slugs.Open(ctx, d)
	if errors.Is(err, slug.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("platform: slug %s: %w", s.ID, ErrNotFound)
	}
	return rc, err
}

// releaseOfSlug is the app's newest release that ran slug id.
func (p *Platform) releaseOfSlug(ctx context.Context, app, id string) (release.Release, error) {
	hist, err := p.History(ctx, app)
	if err != nil {
		return release.Release{}, err
	}
	for _, r := range slices.Backward(hist) {
		if r.Slug.ID == id && !r.Slug.IsZero() {
			return r, nil
		}
	}
	return release.Release{}, fmt.Errorf("platform: slug %q of %s: no release of the app ran it, and it was not created by API: %w", id, app, ErrNotFound)
}
