// Command addonsbench measures add-on provision and deprovision latency
// of dynokit's postgres and redis providers beside floors measured in
// the same run, alternating: the bare statements/commands sent in-process
// (pgx, go-redis) and through the command-line clients (psql,
// redis-cli). bench/addons/run.sh starts the servers and runs it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/postgres"
	"github.com/dynokit/dynokit/addons/redis"
)

func main() {
	pgURL := flag.String("pg", "", "PostgreSQL admin URL (superuser)")
	psql := flag.String("psql", "psql", "psql binary")
	redisAddr := flag.String("redis", "", "Redis address host:port")
	redisPW := flag.String("redis-password", os.Getenv("REDIS_PASSWORD"), "password of Redis's default user")
	redisCLI := flag.String("redis-cli", "redis-cli", "redis-cli binary")
	n := flag.Int("n", 20, "repetitions (median reported)")
	flag.Parse()
	ctx := context.Background()
	var rows []row
	if *pgURL != "" {
		rows = append(rows, benchPostgres(ctx, *pgURL, *psql, *n)...)
	}
	if *redisAddr != "" {
		rows = append(rows, benchRedis(ctx, *redisAddr, *redisPW, *redisCLI, *n)...)
	}
	fmt.Printf("%-34s %10s %10s %10s\n", "operation (median of "+fmt.Sprint(*n)+")", "median", "min", "max")
	for _, r := range rows {
		fmt.Printf("%-34s %10s %10s %10s\n", r.name, med(r.d).Round(10*time.Microsecond), slices.Min(r.d).Round(10*time.Microsecond), slices.Max(r.d).Round(10*time.Microsecond))
	}
	fmt.Println()
	byName := map[string][]time.Duration{}
	for _, r := range rows {
		byName[r.name] = r.d
	}
	for _, pair := range [][2]string{
		{"postgres provision (dynokit)", "postgres provision floor (pgx)"},
		{"postgres provision (dynokit)", "postgres provision floor (psql)"},
		{"postgres deprovision (dynokit)", "postgres deprovision floor (pgx)"},
		{"postgres deprovision (dynokit)", "postgres deprovision floor (psql)"},
		{"redis provision (dynokit)", "redis provision floor (go-redis)"},
		{"redis provision (dynokit)", "redis provision floor (redis-cli)"},
		{"redis deprovision (dynokit)", "redis deprovision floor (go-redis)"},
		{"redis deprovision (dynokit)", "redis deprovision floor (redis-cli)"},
	} {
		a, b := byName[pair[0]], byName[pair[1]]
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		fmt.Printf("ratio %-32s / %-36s = %.2f\n", pair[0], pair[1], float64(med(a))/float64(med(b)))
	}
}

type row struct {
	name string
	d    []time.Duration
}

func med(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func timeIt(f func() error) time.Duration {
	start := time.Now()
	if err := f(); err != nil {
		fmt.Fprintln(os.Stderr, "addonsbench:", err)
		os.Exit(1)
	}
	return time.Since(start)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func benchPostgres(ctx context.Context, adminURL, psql string, n int) []row {
	p := &postgres.Provider{AdminURL: adminURL}
	rows := []row{{name: "postgres provision (dynokit)"}, {name: "postgres deprovision (dynokit)"},
		{name: "postgres provision floor (pgx)"}, {name: "postgres deprovision floor (pgx)"},
		{name: "postgres provision floor (psql)"}, {name: "postgres deprovision floor (psql)"}}
	// The floor: what any provider has to send, on a fresh connection
	// per operation as the provider does.
	create := func(name, pw string) []string {
		id := pgx.Identifier{name}.Sanitize()
		return []string{
			fmt.Sprintf("CREATE ROLE %s LOGIN CONNECTION LIMIT 5 PASSWORD '%s'", id, pw),
			fmt.Sprintf("CREATE DATABASE %s OWNER %s TEMPLATE template0 CONNECTION LIMIT 5", id, id),
			fmt.Sprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC", id),
		}
	}
	drop := func(name string) []string {
		id := pgx.Identifier{name}.Sanitize()
		return []string{"DROP DATABASE " + id + " WITH (FORCE)", "DROP ROLE " + id}
	}
	viaPgx := func(stmts []string) error {
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		for _, s := range stmts {
			if _, err := conn.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
	viaPsql := func(stmts []string) error {
		args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", adminURL}
		for _, s := range stmts {
			args = append(args, "-c", s)
		}
		out, err := exec.CommandContext(ctx, psql, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql: %v: %s", err, out)
		}
		return nil
	}
	for i := range n {
		var res addons.Resource
		rows[0].d = append(rows[0].d, timeIt(func() (err error) {
			res, err = p.Provision(ctx, addons.ProvisionRequest{ID: fmt.Sprintf("bench-%s-%d", randomHex(4), i), Plan: "hobby"})
			return err
		}))
		rows[1].d = append(rows[1].d, timeIt(func() error { return p.Deprovision(ctx, res.ID) }))
		name := "floor_" + randomHex(6)
		rows[2].d = append(rows[2].d, timeIt(func() error { return viaPgx(create(name, randomHex(16))) }))
		rows[3].d = append(rows[3].d, timeIt(func() error { return viaPgx(drop(name)) }))
		rows[4].d = append(rows[4].d, timeIt(func() error { return viaPsql(create(name, randomHex(16))) }))
		rows[5].d = append(rows[5].d, timeIt(func() error { return viaPsql(drop(name)) }))
	}
	return rows
}

func benchRedis(ctx context.Context, addr, password, cli string, n int) []row {
	p := &redis.Provider{Addr: addr, Password: password}
	defer p.Close()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Password: password, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer c.Close()
	rows := []row{{name: "redis provision (dynokit)"}, {name: "redis deprovision (dynokit)"},
		{name: "redis provision floor (go-redis)"}, {name: "redis deprovision floor (go-redis)"},
		{name: "redis provision floor (redis-cli)"}, {name: "redis deprovision floor (redis-cli)"}}
	setuser := func(name string) []string {
		// The same rules as the provider's users.
		return append([]string{"ACL", "SETUSER", name, "reset", "on", ">" + randomHex(16), "~" + name + ":*", "&" + name + ":*"},
			strings.Fields(redis.CommandRules)...)
	}
	do := func(args []string) error {
		a := make([]any, len(args))
		for i, s := range args {
			a[i] = s
		}
		return c.Do(ctx, a...).Err()
	}
	viaCLI := func(args []string) error {
		cmd := exec.CommandContext(ctx, cli, append([]string{"-h", strings.Split(addr, ":")[0], "-p", addr[strings.LastIndex(addr, ":")+1:], "--no-auth-warning"}, args...)...)
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+password)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.HasPrefix(string(out), "(error)") || strings.HasPrefix(string(out), "ERR") {
			return fmt.Errorf("redis-cli %s: %v: %s", args[1], err, out)
		}
		return nil
	}
	for i := range n {
		var res addons.Resource
		rows[0].d = append(rows[0].d, timeIt(func() (err error) {
			res, err = p.Provision(ctx, addons.ProvisionRequest{ID: fmt.Sprintf("bench-%s-%d", randomHex(4), i), Plan: "mini"})
			return err
		}))
		rows[1].d = append(rows[1].d, timeIt(func() error { return p.Deprovision(ctx, res.ID) }))
		name := "floor_" + randomHex(6)
		rows[2].d = append(rows[2].d, timeIt(func() error { return do(setuser(name)) }))
		rows[3].d = append(rows[3].d, timeIt(func() error { return do([]string{"ACL", "DELUSER", name}) }))
		rows[4].d = append(rows[4].d, timeIt(func() error { return viaCLI(setuser(name)) }))
		rows[5].d = append(rows[5].d, timeIt(func() error { return viaCLI([]string{"ACL", "DELUSER", name}) }))
	}
	return rows
}
