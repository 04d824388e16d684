package main

import (
	"log/slog"
	"os"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/nomad"
)

// defaultNomadAddr is -nomad-addr's default: $NOMAD_ADDR, else the local
// agent's default address.
func defaultNomadAddr() string {
	if a := os.Getenv("NOMAD_ADDR"); a != "" {
		return a
	}
	return "http://127.0.0.1:4646"
}

// newNomadRuntime is -runtime nomad: every dyno becomes a Nomad batch job
// (formation/nomad's per-dyno Runtime), driven by the platform's
// Reconciler like the local runtime's processes. Its raw_exec tasks copy
// the slug the platform extracted, so the Nomad client must run on this
// host with raw_exec enabled (a dev agent does: nomad agent -dev with
// plugin "raw_exec" { config { enabled = true } }); web dynos listen on the
// ports the platform picks, which the router reaches on loopback.
//
// Job IDs are the Reconciler's dyno IDs; NOMAD_TOKEN is sent when set.
// Stopping minipaas stops (and purges) every dyno's job; jobs left by a
// minipaas that was killed keep running until purged by hand (nomad job
// stop -purge), as nothing reaps them yet.
func newNomadRuntime(addr string, logger *slog.Logger) formation.Runtime {
	return &nomad.Runtime{Address: addr, Token: os.Getenv("NOMAD_TOKEN"), Logger: logger}
}
