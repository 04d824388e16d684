package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// An add-on's log drain gets the app's log lines while it exists.
func TestAddonLogDrain(t *testing.T) {
	m := startMinipaas(t)
	const app = "drained"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	var mu sync.Mutex
	var got strings.Builder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.Write(b)
		mu.Unlock()
	}))
	defer srv.Close()
	received := func() string { mu.Lock(); defer mu.Unlock(); return got.String() }

	d := &logDrains{p: m.p, log: slog.New(slog.DiscardHandler)}
	defer d.close()
	ctx := context.Background()
	if err := d.AddDrain(ctx, app, srv.URL+"/logs"); err != nil {
		t.Fatal(err)
	}
	if err := d.AddDrain(ctx, app, "ftp://example.invalid/x"); err == nil || strings.Contains(err.Error(), "example.invalid") {
		t.Errorf("bad drain URL: %v", err)
	}
	// The router logs every request, even one no dyno answers.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(received(), "router") {
		if time.Now().After(deadline) {
			t.Fatalf("no router line reached the drain; got %q", received())
		}
		_, _, _ = m.get(app)
		time.Sleep(200 * time.Millisecond)
	}
	if err := d.RemoveDrain(ctx, app, srv.URL+"/logs"); err != nil {
		t.Fatal(err)
	}
	before := received()
	for range 3 {
		_, _, _ = m.get(app)
	}
	time.Sleep(300 * time.Millisecond)
	if after := received(); after != before {
		t.Errorf("lines reached a removed drain: %q", strings.TrimPrefix(after, before))
	}
}
