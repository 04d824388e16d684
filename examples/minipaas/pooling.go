package main

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/postgres"
)

// newPooler is the PgBouncer minipaas runs for heroku
// pg:connection-pooling (addons/postgres.PgBouncer), or nil: no
// -postgres-url, -pooler-addr empty, pgbouncer not installed, or an admin
// that is not a superuser (logged). Its server connections per database
// and role are half the smallest plan's limit, leaving the rest to
// PgBouncer's own lookups.
func newPooler(ctx context.Context, o options, log *slog.Logger) *postgres.PgBouncer {
	if o.PostgresURL == "" || o.PoolerAddr == "" {
		return nil
	}
	bin, err := postgres.FindPgBouncer()
	if err != nil {
		log.Info("minipaas: no connection pooling (heroku pg:connection-pooling)", "err", err)
		return nil
	}
	smallest := slices.MinFunc(postgresPlans, func(a, b addons.Plan) int { return cmp.Compare(a.Limits.Connections, b.Limits.Connections) })
	b := &postgres.PgBouncer{AdminURL: o.PostgresURL, Addr: o.PoolerAddr, Bin: bin, PoolSize: smallest.Limits.Connections / 2, Logger: log}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Check(cctx); err != nil {
		log.Warn("minipaas: no connection pooling (heroku pg:connection-pooling)", "err", err)
		return nil
	}
	return b
}
