package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/postgres"
)

// A provider over a PostgreSQL server administered as postgres; each
// add-on gets a role and a database of its own. (Needs a server, so it
// is compiled but not run.)
func Example() {
	p := &postgres.Provider{AdminURL: "postgres://postgres:admin-password@127.0.0.1:5432/postgres"}
	ctx := context.Background()
	res, err := p.Provision(ctx, addons.ProvisionRequest{ID: "01234567-89ab-cdef-0123-456789abcdef", Plan: "hobby"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.ID == postgres.ResourceID("01234567-89ab-cdef-0123-456789abcdef"), res.Config.Names())
	_ = p.Deprovision(ctx, res.ID)
}

// The rows of heroku pg:info for one add-on. (Needs a server, so it is
// compiled but not run.)
func ExampleProvider_Describe() {
	p := &postgres.Provider{AdminURL: "postgres://postgres:admin-password@127.0.0.1:5432/postgres"}
	facts, err := p.Describe(context.Background(), postgres.ResourceID("01234567-89ab-cdef-0123-456789abcdef"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range facts {
		fmt.Printf("%-12s %s\n", f.Name+":", strings.Join(f.Values, ", ")) // Connections: 1/5, Data Size: 7.2 MB, …
	}
}

// PgBouncer in front of the server, and an add-on's URL through it.
// (Needs a server and pgbouncer, so it is compiled but not run.)
func ExamplePgBouncer() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	admin := "postgres://postgres:pw@127.0.0.1:5432/postgres"
	pooler := &postgres.PgBouncer{AdminURL: admin, Addr: "127.0.0.1:6432", Dir: "/var/lib/dynokit/pgbouncer"}
	go pooler.Run(ctx)
	p := &postgres.Provider{AdminURL: admin, PoolerAddr: pooler.Addr}
	u, err := p.PooledURL("postgres://pg0123:secret@127.0.0.1:5432/pg0123")
	fmt.Println(u, err) // postgres://pg0123:secret@127.0.0.1:6432/pg0123 <nil>
}

// Slow statements and errors of the add-ons' databases, as they happen:
// one database's log lines for its app. (Needs a server that writes a
// JSON log, so it is compiled but not run.)
func ExampleServerLog() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sl := &postgres.ServerLog{AdminURL: "postgres://postgres:pw@127.0.0.1:5432/postgres"}
	err := sl.Run(ctx, func(e postgres.LogEntry) {
		if e.Database == postgres.ResourceID("01234567-89ab-cdef-0123-456789abcdef") {
			fmt.Printf("[%d-1] sql_error_code = %s %s:  %s\n", e.Line, e.SQLState, e.Severity, e.Message)
		}
	})
	if errors.Is(err, postgres.ErrNoJSONLog) {
		fmt.Println("set logging_collector = on and log_destination = 'jsonlog' on the server")
	}
}

// Heroku's log settings for one add-on's database (heroku
// pg:settings:log-min-duration-statement 250). (Needs a server, so it is
// compiled but not run.)
func ExampleProvider_UpdateSettings() {
	p := &postgres.Provider{AdminURL: "postgres://postgres:pw@127.0.0.1:5432/postgres"}
	id := postgres.ResourceID("01234567-89ab-cdef-0123-456789abcdef")
	settings, err := p.UpdateSettings(context.Background(), id, map[string]string{"log_min_duration_statement": "250"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range settings {
		fmt.Println(s.Name, s.Value) // log_connections false, …, log_min_duration_statement 250, …
	}
}
