package nomad

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/dynokit/dynokit/formation"
)

var _ formation.OneOffRunner = (*Scheduler)(nil)

// RunOneOff runs spec.Command as a one-off dyno of d's app (heroku run, the
// release phase): a batch job of its own, "<job ID>-run-N", through the
// per-dyno Runtime, so it is never restarted, its exit status is the
// command's, and its job is purged when it ends. It uses the app's driver
// (see Scheduler.Driver), d's slug as an artifact and d's config vars; DYNO
// is "run.N"; spec.Resources bound it as Resources bound a Runtime dyno,
// and spec.Stdin is attached as for the Runtime (through a connection back
// to this process, at Scheduler.StdinAddr). Delete stops an app's running
// one-offs too.
func (s *Scheduler) RunOneOff(ctx context.Context, d formation.Deployment, spec formation.OneOffSpec, stdio formation.Stdio) (formation.Dyno, error) {
	d.Processes = nil // the one-off's command is the only process
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("nomad: one-off: %w", err)
	}
	if strings.TrimSpace(spec.Command) == "" {
		return nil, fmt.Errorf("nomad: one-off of %s: empty command", d.App)
	}
	if err := s.checkApp(d.App); err != nil {
		return nil, fmt.Errorf("nomad: one-off: %w", err)
	}
	driver, err := s.pickDriver(ctx, s.client(), d.App)
	if err != nil {
		return nil, fmt.Errorf("nomad: one-off of %s: %w", d.App, err)
	}
	url, sum := d.Slug.URL, artifactChecksum(d.Slug.Digest)
	rt := &Runtime{
		Address: s.Address, Token: s.Token, Namespace: s.Namespace, Region: s.Region,
		Datacenters: s.Datacenters, Driver: driver, Shell: s.Shell,
		KillTimeout: d.Grace, DefaultMemoryMB: s.DefaultMemoryMB,
		SlugURL: func(formation.DynoSpec) (string, string, bool) {
			return url, sum, true
		},
		StdinAddr: s.StdinAddr, HTTPClient: s.HTTPClient, Logger: s.Logger,
	}
	n := 1000 + rand.IntN(9000) // Heroku's run.NNNN
	name := fmt.Sprintf("run.%d", n)
	dyno, err := rt.Start(ctx, formation.DynoSpec{
		ID:        fmt.Sprintf("%s-run-%d", s.JobID(d.App), n),
		App:       d.App,
		Name:      name,
		Type:      "run",
		Release:   d.Release,
		Command:   spec.Command,
		Env:       append(append([]string(nil), d.Env...), "DYNO="+name),
		Resources: spec.Resources,
		Stdin:     spec.Stdin,
		Terminal:  spec.Terminal,
	}, stdio)
	if err != nil {
		return nil, fmt.Errorf("nomad: one-off of %s: %w", d.App, err)
	}
	return dyno, nil
}

// artifactChecksum turns a slug digest ("SHA256:<hex>") into the checksum
// option of Nomad's artifact getter ("sha256:<hex>"); "" when there is none.
func artifactChecksum(digest string) string {
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok {
		return ""
	}
	return strings.ToLower(algo) + ":" + hex
}
