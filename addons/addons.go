package addons

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Provider provisions add-on resources: a database, a cache, anything an
// app reaches through config vars.
type Provider interface {
	// Provision creates the resource for req, or returns the one already
	// created for req.ID: a retried request never makes a second resource.
	// Unknown plans give an error wrapping ErrUnknownPlan. A Provision that
	// fails after the resource was made (an asynchronous provision that
	// cannot be finished) returns its ID with the error, so the caller
	// deprovisions it instead of leaving it behind.
	Provision(ctx context.Context, req ProvisionRequest) (Resource, error)
	// Deprovision removes the resource and everything it holds. An unknown
	// (or already removed) resourceID gives an error wrapping ErrNotFound.
	Deprovision(ctx context.Context, resourceID string) error
}

// PlanChanger is implemented by providers that can move a resource to
// another plan of the same service without losing its data.
type PlanChanger interface {
	// ChangePlan returns the resource on its new plan. A nil Config in the
	// result means the config vars did not change.
	ChangePlan(ctx context.Context, resourceID, plan string) (Resource, error)
}

// Backuper is implemented by providers that can copy a resource's data
// out and back in (for PostgreSQL: pg_dump and pg_restore).
type Backuper interface {
	Backup(ctx context.Context, resourceID string, w io.Writer) error
	// Restore replaces the resource's data with a backup taken by Backup:
	// afterwards the resource holds what the backup holds and nothing
	// else. A restore that fails should change nothing.
	Restore(ctx context.Context, resourceID string, r io.Reader) error
}

// Resetter is implemented by providers that can empty a resource of its
// data while keeping it and its credentials (heroku pg:reset).
// extensions, when given, are installed afresh (PostgreSQL extensions).
type Resetter interface {
	Reset(ctx context.Context, resourceID string, extensions []string) error
}

// CredentialRotator is implemented by providers that can replace a
// resource's credentials (heroku pg:credentials:rotate). The returned
// Resource's Config holds the new ones; undo puts the previous ones back,
// for a platform that could not hand the new ones to every app.
type CredentialRotator interface {
	RotateCredentials(ctx context.Context, resourceID string) (res Resource, undo func(context.Context) error, err error)
}

// CredentialManager is implemented by providers whose resources can have
// named credentials besides the one their config vars carry (heroku
// pg:credentials:create): logins of their own, for a reporting tool or a
// second service, with no privileges until granted them. The default
// credential is not among them and cannot be destroyed.
type CredentialManager interface {
	CreateCredential(ctx context.Context, resourceID, name string) (Credential, error)
	Credentials(ctx context.Context, resourceID string) ([]Credential, error)
	// RotateCredential gives a named credential a new secret; the old one
	// stops working.
	RotateCredential(ctx context.Context, resourceID, name string) (Credential, error)
	DestroyCredential(ctx context.Context, resourceID, name string) error
}

// DefaultCredentialRepairer is implemented by providers whose named
// credentials can own objects: RepairDefaultCredential gives the default
// credential back every object the named ones own (heroku
// pg:credentials:repair-default).
type DefaultCredentialRepairer interface {
	RepairDefaultCredential(ctx context.Context, resourceID string) error
}

// Pooler is implemented by providers with a connection pooler in front of
// their resources (heroku pg:connection-pooling:attach): PooledURL turns
// a resource's URL into the same login through the pooler.
type Pooler interface {
	PooledURL(resourceURL string) (string, error)
}

// Credential is a named credential of a resource. URL holds its secret.
type Credential struct {
	Name string
	URL  string
}

// ConnectionResetter is implemented by providers that can close every
// client connection to a resource (heroku pg:killall); it returns how
// many it closed.
type ConnectionResetter interface {
	ResetConnections(ctx context.Context, resourceID string) (closed int, err error)
}

// Forker is implemented by providers that can create a new resource
// holding a copy of an existing one's data.
type Forker interface {
	Fork(ctx context.Context, sourceResourceID string, req ProvisionRequest) (Resource, error)
}

// Describer is implemented by providers that can report a resource's
// live state, for heroku pg:info and redis:info (the Data API answers
// them with a list of name and values rows). Describe only reads: it
// must not change the resource, so the Manager runs it alongside other
// operations on the add-on. An unknown (or removed) resourceID gives an
// error wrapping ErrNotFound.
type Describer interface {
	Describe(ctx context.Context, resourceID string) ([]Fact, error)
}

// Fact is one row of what a provider reports about a resource, in the
// shape of the Data API's info rows: a name such as "Connections" and
// its values, already formatted for people ("3/20", "7.6 MB"). The
// provider's package doc lists its facts; the order is the display order.
type Fact struct {
	Name   string
	Values []string
}

// Diagnoser is implemented by providers that can check a resource's
// health, for heroku pg:diagnose: named checks, each green, yellow or red
// with what it found. Like Describe, Diagnose only reads. An unknown (or
// removed) resourceID gives an error wrapping ErrNotFound.
type Diagnoser interface {
	Diagnose(ctx context.Context, resourceID string) ([]Check, error)
}

// Check is one health check's outcome. A check that finds things lists
// them in Rows (one map per row, column to value); one that measures a
// single quantity gives it in Value ({"count": "12"}).
type Check struct {
	Name   string
	Status CheckStatus
	Rows   []map[string]string
	Value  map[string]string
}

// CheckStatus is a Check's verdict.
type CheckStatus string

// The statuses heroku pg:diagnose shows, worst first; Skipped is a check
// that does not apply (a plan without the metrics it reads).
const (
	CheckRed     CheckStatus = "red"
	CheckYellow  CheckStatus = "yellow"
	CheckGreen   CheckStatus = "green"
	CheckSkipped CheckStatus = "skipped"
)

// PlanLister is implemented by providers that know their own plans; a
// Catalog checks its plans against it.
type PlanLister interface {
	Plans() []Plan
}

// ProvisionRequest asks a provider for a resource. Its fields mirror the
// partner API provision body (heroku.md §8.3).
type ProvisionRequest struct {
	ID      string            // idempotency key chosen by the platform (the partner API uuid)
	Name    string            // add-on name, e.g. "postgres-amber-42" (may be empty)
	App     string            // billing app (informational)
	Plan    string            // plan name within the service, e.g. "hobby"
	Region  string            // optional
	Options map[string]string // --key value flags from the user
	// LogInputURL is where the provider may send the resource's logs
	// (partner API log_input_url); empty when the platform offers none.
	LogInputURL string
}

// Resource is what a provider made. Config keys carry the service's
// config prefix (e.g. DATABASE_URL); the platform renames them per
// attachment.
type Resource struct {
	ID          string // the provider's id, used for Deprovision and ChangePlan
	Plan        string
	Config      Config
	LogDrainURL string // optional; the platform hands it to its log router
	Message     string // optional, shown to the user
}

// Config maps config var names to values. Values are secrets (URLs with
// passwords), so String, Format, GoString and LogValue print names only.
type Config map[string]string

// Names returns the sorted names.
func (c Config) Names() []string { return slices.Sorted(maps.Keys(c)) }

// String prints "map[A:[REDACTED] B:[REDACTED]]".
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range c.Names() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + ":[REDACTED]")
	}
	b.WriteByte(']')
	return b.String()
}

// GoString prints a Go-like literal with redacted values.
func (c Config) GoString() string {
	parts := make([]string, 0, len(c))
	for _, k := range c.Names() {
		parts = append(parts, strconv.Quote(k)+`:"[REDACTED]"`)
	}
	return "addons.Config{" + strings.Join(parts, ", ") + "}"
}

// Format redacts for every verb, including %x and %d which would
// otherwise print the values.
func (c Config) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, c.GoString())
		return
	}
	_, _ = io.WriteString(f, c.String())
}

// LogValue logs the sorted names only.
func (c Config) LogValue() slog.Value { return slog.StringValue(strings.Join(c.Names(), ",")) }

// Clone returns a copy (nil stays nil).
func (c Config) Clone() Config { return maps.Clone(c) }

// Plan is one tier of a service.
type Plan struct {
	Name        string // e.g. "hobby"; unique within its service
	Description string
	Limits      Limits
}

// Limits are a plan's resource limits; zero means "not limited". Which
// limits a provider enforces is in its package doc.
type Limits struct {
	Connections int   // concurrent connections (PostgreSQL: role and database CONNECTION LIMIT)
	Bytes       int64 // storage or memory, informational unless the provider says otherwise
}

// Errors callers branch on.
var (
	ErrNotFound              = errors.New("addons: not found")
	ErrUnknownService        = errors.New("addons: unknown service")
	ErrUnknownPlan           = errors.New("addons: unknown plan")
	ErrDuplicateAttachment   = errors.New("addons: attachment name already used by the app")
	ErrPlanChangeUnsupported = errors.New("addons: provider cannot change plans")
	ErrDescribeUnsupported   = errors.New("addons: provider cannot describe resources")
	ErrDiagnoseUnsupported   = errors.New("addons: provider cannot diagnose resources")
	ErrBackupUnsupported     = errors.New("addons: provider cannot back up or restore resources")
	ErrResetUnsupported      = errors.New("addons: provider cannot reset resources")
	ErrRotateUnsupported     = errors.New("addons: provider cannot rotate credentials")
	ErrResetConnsUnsupported = errors.New("addons: provider cannot close connections")
	ErrSettingsUnsupported   = errors.New("addons: provider has no settings")
	ErrLastAttachment        = errors.New("addons: cannot detach the add-on's last attachment; destroy the add-on instead")
	ErrInvalid               = errors.New("addons: invalid input")
)
