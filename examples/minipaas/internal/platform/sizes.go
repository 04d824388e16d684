package platform

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dynokit/dynokit/formation"
)

// DynoSize is a dyno size name and the limits a dyno of that size gets.
type DynoSize struct {
	Name        string
	MemoryBytes int64 // memory quota, enforced as a cgroup limit
	PIDs        int64 // processes and threads
	// Compute is Heroku's compute multiplier (the dyno-size object's
	// compute field): a standard-1X is 1. A dyno gets Compute CPU shares
	// (formation.CPUShareUnit each) as its relative CPU weight.
	Compute int64
	// Dedicated is true for sizes Heroku runs on dedicated CPUs. Here it
	// is informational: every size is a weight on shared CPUs.
	Dedicated bool
}

// DynoSizes returns Heroku's Common Runtime sizes with their memory quotas,
// process limits (reference heroku.md §5.7) and compute (Heroku's dyno
// types table: CPU share 1x for eco, basic and standard-1X, 2x for
// standard-2X, and compute 12x and 50x for the dedicated performance-M and
// -L). A formation without a size runs unlimited: limits need cgroups,
// which a development machine may not delegate, and formation/local then
// only warns.
//
// On engines that reserve CPU for a weight (Nomad's MHz, Kubernetes
// requests; see formation's package doc) a standard-1X reserves 1024 MHz
// or one CPU, and a performance-L 50 times that: it fits only nodes that
// large.
func DynoSizes() []DynoSize {
	return []DynoSize{
		{"eco", 512 << 20, 256, 1, false},
		{"basic", 512 << 20, 256, 1, false},
		{"standard-1x", 512 << 20, 256, 1, false},
		{"standard-2x", 1 << 30, 512, 2, false},
		{"performance-m", 2560 << 20, 32768, 12, true},
		{"performance-l", 14 << 30, 32768, 50, true},
	}
}

// LookupDynoSize finds a size by name, ignoring case ("Standard-2X").
func LookupDynoSize(name string) (DynoSize, bool) {
	for _, s := range DynoSizes() {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return DynoSize{}, false
}

func sizeNames() string {
	var ns []string
	for _, s := range DynoSizes() {
		ns = append(ns, s.Name)
	}
	return strings.Join(ns, ", ")
}

// SizeLabel is the size the API, the CLI and the app[api] log lines show
// for a formation size: an unsized dyno runs unlimited and shows as Basic.
func SizeLabel(size string) string { return cmp.Or(size, "Basic") }

// resourcesFor maps a formation size to the dyno's limits ("" = none).
func resourcesFor(size string) formation.Resources {
	s, ok := LookupDynoSize(size)
	if !ok {
		return formation.Resources{}
	}
	return formation.Resources{MemoryBytes: s.MemoryBytes, PIDs: s.PIDs, CPUShares: s.Compute * formation.CPUShareUnit}
}

// Resize sets the dyno size of process types ("web": "standard-2x") and
// restarts the app's dynos so they run with the new limits.
func (p *Platform) Resize(ctx context.Context, app string, sizes map[string]string) error {
	e, _, err := p.lockApp(app)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	cur, err := p.current(ctx, app)
	if err != nil {
		return err
	}
	canonical := map[string]string{}
	for _, t := range slices.Sorted(maps.Keys(sizes)) {
		if _, ok := cur.ProcessTypes[t]; !ok || t == "release" {
			return fmt.Errorf("platform: resize %s: no process type %q in release v%d: %w", app, t, cur.Version, ErrNotFound)
		}
		s, ok := LookupDynoSize(sizes[t])
		if !ok {
			return fmt.Errorf("platform: resize %s: %s: unknown dyno size %q (sizes: %s)", app, t, sizes[t], sizeNames())
		}
		canonical[t] = s.Name
	}
	rec, err := p.updateApp(ctx, e, func(r *appRecord) error {
		for t, s := range canonical {
			pr := r.Formation[t]
			pr.Size = s
			r.Formation[t] = pr
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("platform: resize %s: %w", app, err)
	}
	if err := p.setFormation(rec, cur); err != nil {
		return fmt.Errorf("platform: resize %s: %w", app, err)
	}
	// The Reconciler replaces dynos for a new release or quantity, not for
	// a new size; restart so the limits apply now.
	p.rec.Restart(app)
	p.apiLog(rec.ID, scaledLine(rec.Formation, slices.Collect(maps.Keys(canonical)), p.userOf(ctx)))
	p.emitFormation(ctx, rec.ID, app, p.userOf(ctx), slices.Collect(maps.Keys(canonical)))
	return nil
}
