package main

import (
	"log/slog"
	"os"
	"os/exec"

	"github.com/dynokit/dynokit/addons/postgres"
)

// newPooler is the PgBouncer minipaas runs for heroku
// pg:connection-pooling (addons/postgres.PgBouncer), or nil: no
// -postgres-url, -pooler-addr empty, or pgbouncer not installed. Its
// server connections per database and role are half the smallest plan's
// limit (postgresPlans: 20), leaving the rest to PgBouncer's own lookups.
func newPooler(o options, log *slog.Logger) *postgres.PgBouncer {
	if o.PostgresURL == "" || o.PoolerAddr == "" {
		return nil
	}
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer"
		if _, err := os.Stat(bin); err != nil {
			log.Info("minipaas: no connection pooling (heroku pg:connection-pooling): pgbouncer is not installed")
			return nil
		}
	}
	return &postgres.PgBouncer{AdminURL: o.PostgresURL, Addr: o.PoolerAddr, Bin: bin, PoolSize: 10, Logger: log}
}
