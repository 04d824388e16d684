package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/postgres"
)

func TestSettings(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	res := provision(t, p, "hobby")
	other := provision(t, p, "hobby")
	values := func(id string) map[string]any {
		t.Helper()
		list, err := p.Settings(ctx(t), id)
		if err != nil {
			t.Fatalf("Settings: %v", err)
		}
		m := map[string]any{}
		for _, s := range list {
			if s.Description == "" {
				t.Errorf("setting %s has no description", s.Name)
			}
			m[s.Name] = s.Value
		}
		return m
	}
	// Before any change: the server's own values.
	before := values(res.ID)
	if before["log_statement"] != "none" || before["log_min_duration_statement"] != -1 || before["log_lock_waits"] != false {
		t.Fatalf("settings before a change = %v; want the server's defaults", before)
	}
	if len(before) != 14 || before["auto_explain"] != false || before["auto_explain.log_min_duration"] != -1 || before["auto_explain.log_format"] != "text" {
		t.Errorf("Settings listed %d settings, want 14, auto_explain off with its defaults: %v", len(before), before)
	}

	after, err := p.UpdateSettings(ctx(t), res.ID, map[string]string{
		"log_statement": "all", "log_min_duration_statement": "250", "log_lock_waits": "true", "track_functions": "pl",
		"auto_explain": "on", "auto_explain.log_min_duration": "0", "auto_explain.log_format": "json",
	})
	if err != nil {
		t.Fatalf("UpdateSettings: %v", err)
	}
	got := map[string]any{}
	for _, s := range after {
		got[s.Name] = s.Value
	}
	want := map[string]any{"auto_explain": true, "auto_explain.log_min_duration": 0, "auto_explain.log_format": "json", "auto_explain.log_analyze": false, "log_statement": "all", "log_min_duration_statement": 250, "log_lock_waits": true, "track_functions": "pl", "log_connections": before["log_connections"], "log_min_error_statement": before["log_min_error_statement"]}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("after UpdateSettings %s = %v, want %v", k, got[k], v)
		}
	}
	// The add-on's own sessions run with them; another add-on's do not.
	show := func(res addons.Resource) (stmt, dur string) {
		withConn(t, res, func(c *pgx.Conn) error {
			if err := c.QueryRow(ctx(t), "SHOW log_statement").Scan(&stmt); err != nil {
				return err
			}
			return c.QueryRow(ctx(t), "SHOW log_min_duration_statement").Scan(&dur)
		})
		return stmt, dur
	}
	if stmt, dur := show(res); stmt != "all" || dur != "250ms" {
		t.Errorf("the add-on's session has log_statement %q, log_min_duration_statement %q; want all, 250ms", stmt, dur)
	}
	// auto_explain is loaded into the add-on's sessions, with its settings.
	withConn(t, res, func(c *pgx.Conn) error {
		// A parameter not set on the database is listed only once the
		// library defines it.
		var loaded bool
		var dur, format string
		if err := c.QueryRow(ctx(t), "SELECT EXISTS (SELECT FROM pg_settings WHERE name = 'auto_explain.log_analyze'), current_setting('auto_explain.log_min_duration'), current_setting('auto_explain.log_format')").Scan(&loaded, &dur, &format); err != nil {
			return err
		}
		if !loaded || dur != "0" || format != "json" {
			t.Errorf("the add-on's session: auto_explain loaded %v, log_min_duration %q, log_format %q", loaded, dur, format)
		}
		return nil
	})
	if after, err := p.UpdateSettings(ctx(t), res.ID, map[string]string{"auto_explain": "off"}); err != nil || after[0].Name != "log_connections" {
		t.Fatalf("UpdateSettings(auto_explain off) = %v, %v", after, err)
	} else if v := values(res.ID); v["auto_explain"] != false || v["auto_explain.log_min_duration"] != 0 {
		t.Errorf("after auto_explain off: %v; want it off, its own settings kept", v)
	}
	if stmt, _ := show(other); stmt != "none" {
		t.Errorf("another add-on's session has log_statement %q, want the server's none", stmt)
	}
	if v := values(other.ID); v["log_statement"] != "none" {
		t.Errorf("another add-on's settings changed: %v", v)
	}

	// Bad input changes nothing, and says which rule it broke.
	for _, bad := range []map[string]string{
		{"log_statement": "none", "shared_buffers": "1GB"},
		{"log_statement": "everything"},
		{"log_lock_waits": "maybe"},
		{"log_min_duration_statement": "-5"},
		{"log_min_duration_statement": "1; DROP TABLE x"},
		{"log_min_duration_statement": "4294967296"},
	} {
		if _, err := p.UpdateSettings(ctx(t), res.ID, bad); !errors.Is(err, addons.ErrInvalid) {
			t.Errorf("UpdateSettings(%v) = %v, want ErrInvalid", bad, err)
		}
	}
	if v := values(res.ID); v["log_statement"] != "all" {
		t.Errorf("a refused update changed log_statement to %v", v["log_statement"])
	}
	if _, err := p.Settings(ctx(t), "pg000000000000000000000000"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Settings of an unknown resource = %v, want ErrNotFound", err)
	}
	if _, err := p.UpdateSettings(ctx(t), "pg000000000000000000000000", map[string]string{"log_statement": "all"}); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("UpdateSettings of an unknown resource = %v, want ErrNotFound", err)
	}
}

func TestInitialSettings(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	p.InitialSettings = postgres.HerokuSettings()
	req := addons.ProvisionRequest{ID: fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()), Plan: "hobby"}
	res, err := p.Provision(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Deprovision(context.Background(), res.ID) })
	list, err := p.Settings(ctx(t), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, s := range list {
		got[s.Name] = s.Value
	}
	if got["log_min_duration_statement"] != 2000 || got["log_statement"] != "ddl" || got["log_lock_waits"] != true {
		t.Errorf("a new database's settings = %v; want Heroku's (2000, ddl, true)", got)
	}
	// Provisioning again (the same request) keeps what the user changed.
	if _, err := p.UpdateSettings(ctx(t), res.ID, map[string]string{"log_statement": "none"}); err != nil {
		t.Fatal(err)
	}
	again, err := p.Provision(ctx(t), req)
	if err != nil || again.ID != res.ID {
		t.Fatalf("Provision again = %v, %v", again.ID, err)
	}
	for _, s := range mustSettings(t, p, res.ID) {
		if s.Name == "log_statement" && s.Value != "none" {
			t.Errorf("provisioning again reset log_statement to %v", s.Value)
		}
	}
	// Bad initial settings leave the database with the server's.
	p.InitialSettings = map[string]string{"log_statement": "everything"}
	plain := provision(t, p, "hobby")
	for _, s := range mustSettings(t, p, plain.ID) {
		if s.Name == "log_statement" && s.Value != "none" {
			t.Errorf("a bad initial setting gave log_statement %v", s.Value)
		}
	}
}

func mustSettings(t *testing.T, p *postgres.Provider, id string) []addons.Setting {
	t.Helper()
	list, err := p.Settings(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return list
}
