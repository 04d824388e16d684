package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

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
// Every job carries this data dir's owner ID (made once, kept in
// <data-dir>/nomad-owner), and the jobs a killed minipaas left running are
// purged here, before the platform opens and starts its dynos again.
func newNomadRuntime(ctx context.Context, addr, dataDir string, logger *slog.Logger) (*nomad.Runtime, error) {
	owner, err := nomadOwner(filepath.Join(dataDir, "nomad-owner"))
	if err != nil {
		return nil, err
	}
	rt := &nomad.Runtime{Address: addr, Token: os.Getenv("NOMAD_TOKEN"), Owner: owner, Logger: logger}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	purged, err := rt.PurgeOwned(ctx)
	if err != nil {
		return nil, fmt.Errorf("-runtime nomad: %w", err)
	}
	for _, id := range purged {
		logger.Warn("minipaas: purged a Nomad job left by a previous run", "job", id)
	}
	return rt, nil
}

// nomadOwner reads the data dir's owner ID for Nomad jobs, creating it on
// first use: random, so two platforms sharing a cluster never purge each
// other's jobs, and kept, so a restarted platform finds its own.
func nomadOwner(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("-runtime nomad: owner ID: %w", err)
	}
	id := "minipaas-" + rand.Text()
	if err := os.WriteFile(file, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("-runtime nomad: owner ID: %w", err)
	}
	return id, nil
}
