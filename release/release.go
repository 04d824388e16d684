package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is the state of a release. A release is appended as [StatusPending]
// when it has a release phase to run and as [StatusSucceeded] otherwise; a
// pending release moves once to succeeded or failed and never again.
type Status string

const (
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusSucceeded || s == StatusFailed
}

// SlugRef points at the slug a release runs. ID is the slug store's
// identifier; Checksum is "SHA256:" followed by 64 lowercase hex digits,
// the form the Platform API uses for slugs.
type SlugRef struct {
	ID       string `json:"id"`
	Checksum string `json:"checksum"`
}

// IsZero reports whether no slug is referenced (config-only releases made
// before the first deploy).
func (s SlugRef) IsZero() bool { return s.ID == "" && s.Checksum == "" }

// Validate checks that both fields are set and the checksum is well formed.
func (s SlugRef) Validate() error {
	if s.ID == "" {
		return fmt.Errorf("release: slug id is empty")
	}
	if len(s.ID) > 255 || !utf8.ValidString(s.ID) || strings.ContainsRune(s.ID, 0) {
		return fmt.Errorf("release: slug id %.40q: must be valid UTF-8 without NUL, at most 255 bytes", s.ID)
	}
	hexPart, ok := strings.CutPrefix(s.Checksum, "SHA256:")
	if !ok {
		return fmt.Errorf("release: slug checksum %.80q: must start with \"SHA256:\"", s.Checksum)
	}
	if len(hexPart) != 64 {
		return fmt.Errorf("release: slug checksum %.80q: want 64 hex digits after \"SHA256:\", got %d", s.Checksum, len(hexPart))
	}
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("release: slug checksum %.80q: byte %d is not a lowercase hex digit", s.Checksum, len("SHA256:")+i)
		}
	}
	return nil
}

// Release is one immutable version of an app: a slug, the config vars and
// the process types it runs with. Only Status (and UpdatedAt) change after
// it is appended, and only from pending.
type Release struct {
	App     string `json:"app"`
	Version int    `json:"version"` // assigned by Store.Append: 1, 2, 3 …
	// Slug is zero for config-only releases made before the first deploy.
	Slug         SlugRef           `json:"slug"`
	Config       ConfigVars        `json:"config_vars"`
	ProcessTypes map[string]string `json:"process_types"`
	// Addons maps each add-on attachment name ("DATABASE") to the names of
	// the config vars it owns. A rollback never changes this set.
	Addons      map[string][]string `json:"addons,omitempty"`
	Description string              `json:"description"`
	Status      Status              `json:"status"`
	User        string              `json:"user,omitempty"`   // who made it (e-mail or id), optional
	Commit      string              `json:"commit,omitempty"` // source commit, optional
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// Name is the Heroku-style name of the release, "v12".
func (r Release) Name() string { return "v" + strconv.Itoa(r.Version) }

// HasReleasePhase reports whether the release declares a "release"
// process type, which must succeed before the release becomes current.
func (r Release) HasReleasePhase() bool {
	_, ok := r.ProcessTypes["release"]
	return ok
}

// LogValue logs the release without config var values.
func (r Release) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("app", r.App),
		slog.Int("version", r.Version),
		slog.String("status", string(r.Status)),
		slog.String("slug", r.Slug.ID),
		slog.String("description", r.Description),
		slog.Any("config_vars", r.Config),
	)
}

// Clone returns a deep copy, so that callers cannot alias a store's maps.
func (r Release) Clone() Release {
	r.Config = maps.Clone(r.Config)
	r.ProcessTypes = maps.Clone(r.ProcessTypes)
	if r.Addons != nil {
		a := make(map[string][]string, len(r.Addons))
		for k, v := range r.Addons {
			a[k] = slices.Clone(v)
		}
		r.Addons = a
	}
	return r
}

// Store keeps the append-only release history of every app. Implementations
// are safe for concurrent use and pass releasetest.StoreSuite.
type Store interface {
	// Append records r as version expectVersion+1 of app, where
	// expectVersion is the newest version the caller saw (0 for an app
	// without releases). If another release was appended in between, Append
	// fails with an error wrapping ErrConflict and stores nothing. r.App and
	// r.Version are set by Append; r.Status must be pending or succeeded.
	Append(ctx context.Context, app string, r Release, expectVersion int) (Release, error)
	// Get returns one version, or an error wrapping ErrNotFound.
	Get(ctx context.Context, app string, version int) (Release, error)
	// Latest returns the newest release whatever its status, or ErrNotFound.
	Latest(ctx context.Context, app string) (Release, error)
	// Current returns the newest succeeded release, or ErrNotFound.
	Current(ctx context.Context, app string) (Release, error)
	// SetStatus moves a pending release to succeeded or failed. Any other
	// transition fails with an error wrapping ErrConflict.
	SetStatus(ctx context.Context, app string, version int, to Status) (Release, error)
	// List returns releases in the order and window opt describes (newest
	// first by default). An app without releases yields an empty list.
	List(ctx context.Context, app string, opt ListOptions) ([]Release, error)
}

// AppDeleter is implemented by stores that can forget an app's whole
// history, for platforms that destroy apps (heroku apps:destroy). It is an
// optional capability, found by type assertion, so that append-only
// stores (an audit log) remain valid Stores.
type AppDeleter interface {
	// DeleteApp removes every release of app in one transaction. Deleting
	// an app without releases is not an error. A later Append for the same
	// name starts again at v1 (expectVersion 0).
	DeleteApp(ctx context.Context, app string) error
}

// Sentinel errors callers branch on. Everything else is descriptive.
var (
	ErrNotFound = errors.New("release: not found")
	ErrConflict = errors.New("release: conflict")
)

// Order is the direction of a listing by version.
type Order string

const (
	Desc Order = "desc" // newest first: the default
	Asc  Order = "asc"
)

// Paging defaults, as the Platform API's Range (heroku.md §9.2).
const (
	DefaultMax = 200
	MaxMax     = 1000
)

// ListOptions selects a window of the history. The zero value lists the
// newest DefaultMax releases, newest first.
type ListOptions struct {
	// Start is the first version returned (inclusive); 0 means the newest
	// release for Desc and v1 for Asc.
	Start int
	// End bounds the window (inclusive) on the far side; 0 means no bound.
	End int
	// Max is the page size: 0 means DefaultMax; at most MaxMax.
	Max   int
	Order Order
}

// Normalize fills defaults and checks bounds. Stores call it first.
func (o ListOptions) Normalize() (ListOptions, error) {
	if o.Order == "" {
		o.Order = Desc
	}
	if o.Order != Desc && o.Order != Asc {
		return o, fmt.Errorf("release: list order %q: want %q or %q", o.Order, Asc, Desc)
	}
	if o.Max == 0 {
		o.Max = DefaultMax
	}
	if o.Max < 1 || o.Max > MaxMax {
		return o, fmt.Errorf("release: list max %d: want 1..%d", o.Max, MaxMax)
	}
	if o.Start < 0 || o.End < 0 {
		return o, fmt.Errorf("release: list range %d..%d: versions are positive", o.Start, o.End)
	}
	return o, nil
}

// Contains reports whether version v falls inside the window's bounds
// (ignoring Max). Stores use it to filter.
func (o ListOptions) Contains(v int) bool {
	switch o.Order {
	case Asc:
		return (o.Start == 0 || v >= o.Start) && (o.End == 0 || v <= o.End)
	default:
		return (o.Start == 0 || v <= o.Start) && (o.End == 0 || v >= o.End)
	}
}

// ValidateApp checks an app name as stores accept it: non-empty, at most
// 255 bytes of UTF-8 without NUL or '/'. Stricter naming (Heroku's
// ^[a-z][a-z0-9-]{1,28}[a-z0-9]$) is the platform's business.
func ValidateApp(app string) error {
	switch {
	case app == "":
		return errors.New("release: app name is empty")
	case len(app) > 255:
		return fmt.Errorf("release: app name %.40q…: longer than 255 bytes", app)
	case !utf8.ValidString(app) || strings.ContainsAny(app, "\x00/"):
		return fmt.Errorf("release: app name %q: must be UTF-8 without NUL or '/'", app)
	}
	return nil
}
