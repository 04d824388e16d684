package formation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Scheduler runs whole formations on an engine that keeps dynos running by
// itself (a Nomad job per app, Kubernetes Deployments): the engine owns
// placement, replica counts, restarts and back-off, so no Reconciler sits in
// front of it. It is the other seam next to Runtime: a Runtime starts one
// dyno and the Reconciler keeps the formation; a Scheduler takes the
// formation.
//
// Apply and Scale return once the engine has accepted the change, not when
// dynos are up; Dynos reports what the engine observes.
type Scheduler interface {
	// Apply makes the engine run d: it creates what is missing and updates
	// what differs. Process types absent from d are removed. Applying the
	// same Deployment twice changes nothing.
	Apply(ctx context.Context, d Deployment) error
	// Scale sets the quantity of one process type of the app's deployment
	// without a new release. An app or type never applied is an error
	// wrapping ErrUnknown.
	Scale(ctx context.Context, app, typ string, quantity int) error
	// Dynos lists the app's dynos as the engine reports them, sorted by
	// type and index; an unknown app has none.
	Dynos(ctx context.Context, app string) ([]DynoStatus, error)
	// Delete removes everything Apply created for the app and stops its
	// dynos. Deleting an unknown app is not an error.
	Delete(ctx context.Context, app string) error
}

// Restarter is implemented by schedulers that can replace an app's running
// dynos in place (heroku ps:restart): those of the given process types, or
// all of them when none is given.
type Restarter interface {
	Restart(ctx context.Context, app string, types ...string) error
}

// LogFollower is implemented by schedulers that can stream dyno output.
// FollowLogs writes each dyno's output to the Stdio that out returns for it
// (called once per dyno, as dynos appear) until ctx is done.
type LogFollower interface {
	FollowLogs(ctx context.Context, app string, out func(dyno string) Stdio) error
}

// OneOffRunner is implemented by schedulers that can run one-off dynos next
// to a formation: heroku run, and the release phase, which must run on the
// same engine as the app. The dyno runs spec.Command from d's slug with d's
// config vars (d.Processes is ignored), named "run.N" by the scheduler,
// never restarted; its output goes to stdio. Stopping it is formation.Stop.
// A scheduler that cannot attach standard input refuses a spec with Stdin.
type OneOffRunner interface {
	RunOneOff(ctx context.Context, d Deployment, spec OneOffSpec, stdio Stdio) (Dyno, error)
}

// OneOffSpec is what a one-off dyno runs.
type OneOffSpec struct {
	Command   string
	Size      string // dyno size name, informational
	Resources Resources
	// Stdin, when non-nil, is connected to the process (heroku run,
	// attached).
	Stdin io.Reader
	// Terminal, when non-nil, runs the process on a pseudo-terminal of
	// that size, as DynoSpec.Terminal does; a scheduler that cannot
	// refuses the spec with an error wrapping ErrNoTerminal.
	Terminal *Terminal
}

// ErrUnknown is wrapped by Scheduler.Scale for an app or process type that
// was never applied, and by Reconciler.RenameApp for an app it does not
// know.
var ErrUnknown = errors.New("formation: unknown app or process type")

// Deployment is everything a Scheduler needs to run one app's formation.
type Deployment struct {
	App     string
	Release int
	// Slug is where the engine's nodes fetch the app (slug.Handler serves
	// slugs by digest).
	Slug SlugSource
	// Env holds the config vars as KEY=VALUE; the scheduler adds PORT for
	// web dynos and DYNO. Later entries win.
	Env []string
	// Processes maps a process type to its command and scale. Type "web"
	// receives HTTP traffic on $PORT.
	Processes map[string]ProcessSpec
	// Grace is the time between SIGTERM and SIGKILL when a dyno is stopped;
	// 0 means DefaultGrace.
	Grace time.Duration
}

// SlugSource locates a slug for nodes that download it.
type SlugSource struct {
	URL    string // http(s) URL of the gzipped tar
	Digest string // "SHA256:<hex>": nodes verify the download against it
}

// ProcessSpec is one process type of a Deployment.
type ProcessSpec struct {
	Command   string
	Quantity  int
	Size      string // dyno size name, informational (labels, logs)
	Resources Resources
}

// Validate checks the fields every Scheduler relies on.
func (d Deployment) Validate() error {
	switch {
	case d.App == "":
		return errors.New("formation: Deployment.App must not be empty")
	case d.Release < 0:
		return fmt.Errorf("formation: app %s: Deployment.Release %d must not be negative", d.App, d.Release)
	case d.Slug.URL == "":
		return fmt.Errorf("formation: app %s: Deployment.Slug.URL must not be empty", d.App)
	case d.Grace < 0:
		return fmt.Errorf("formation: app %s: Deployment.Grace %v must not be negative", d.App, d.Grace)
	}
	for typ, p := range d.Processes {
		if err := validateProcess(d.App, typ, p.Quantity); err != nil {
			return err
		}
		if p.Command == "" {
			return fmt.Errorf("formation: app %s: process type %s: empty command", d.App, typ)
		}
		if prob := p.Resources.problem(); prob != "" {
			return fmt.Errorf("formation: app %s: process type %s: %s", d.App, typ, prob)
		}
	}
	return nil
}
