package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/addons/postgres"
	"github.com/dynokit/dynokit/internal/pgtest"
)

func TestServerLog(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	if _, err := p.UpdateSettings(ctx(t), res.ID, map[string]string{"log_min_duration_statement": "0"}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx(t))
	entries := make(chan postgres.LogEntry, 1000)
	done := make(chan error, 1)
	sl := &postgres.ServerLog{AdminURL: server.Start(t).AdminURL, Interval: 50 * time.Millisecond}
	go func() {
		done <- sl.Run(runCtx, func(e postgres.LogEntry) {
			if e.Database == res.ID {
				entries <- e
			}
		})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	// await waits for the add-on's entry whose message or statement
	// holds marker.
	await := func(marker string) postgres.LogEntry {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case e := <-entries:
				if strings.Contains(e.Message, marker) || strings.Contains(e.Statement, marker) {
					return e
				}
			case <-timeout:
				t.Fatalf("no log entry with %q", marker)
			}
		}
	}
	// Run starts at the end of the file, when it has connected: the
	// statement is repeated until the first of them shows.
	var e postgres.LogEntry
	giveUp := time.After(20 * time.Second)
	for seen := false; !seen; {
		withConn(t, res, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx(t), "SELECT 'first-marker'")
			return err
		})
		select {
		case e = <-entries:
			seen = strings.Contains(e.Message, "first-marker")
		case <-time.After(500 * time.Millisecond):
		case <-giveUp:
			t.Fatal("no log entry for the first statement")
		}
	}
	if e.Severity != "LOG" || e.SQLState != "00000" || !strings.HasPrefix(e.Message, "duration: ") || e.User == "" || e.PID == 0 || e.Line == 0 || e.Time.IsZero() {
		t.Errorf("statement entry = %+v", e)
	}
	withConn(t, res, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx(t), "SELECT * FROM no_such_table_marker")
		if err == nil {
			return errors.New("a query of a missing table succeeded")
		}
		return nil
	})
	e = await("no_such_table_marker")
	if e.Severity != "ERROR" || e.SQLState != "42P01" || !strings.Contains(e.Statement, "no_such_table_marker") {
		t.Errorf("error entry = %+v", e)
	}
	// The server moves to a new file: the follower moves with it.
	admin := mustConnect(t, server.Start(t).AdminURL)
	if _, err := admin.Exec(ctx(t), "SELECT pg_rotate_logfile()"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	withConn(t, res, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx(t), "SELECT 'after-rotation-marker'")
		return err
	})
	await("after-rotation-marker")
}

func TestServerLogWithoutJSONLog(t *testing.T) {
	t.Parallel()
	var plain pgtest.Server
	t.Cleanup(plain.Stop)
	sl := &postgres.ServerLog{AdminURL: plain.AdminURL(t)}
	if err := sl.Run(ctx(t), func(postgres.LogEntry) {}); !errors.Is(err, postgres.ErrNoJSONLog) {
		t.Errorf("Run on a server without a JSON log = %v, want ErrNoJSONLog", err)
	}
}
