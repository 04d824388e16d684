package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/syslog"
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

// A burst larger than a drain's buffer reaches the drain as on Heroku: the
// newest lines, and an L10 notice counting the oldest ones dropped; never
// a cut at the end with an L11 (a tail reader's notice, not a drain's).
func TestLogDrainBurst(t *testing.T) {
	m := startMinipaas(t)
	const app = "bursty"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	var mu sync.Mutex
	var texts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		msgs, err := syslog.ParseBatch(b, syslog.HTTPSDrain)
		if err != nil {
			t.Errorf("drain batch: %v", err)
		}
		mu.Lock()
		for _, m := range msgs {
			texts = append(texts, m.Logplex(app).Text)
		}
		mu.Unlock()
	}))
	defer srv.Close()
	received := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(texts) }

	d := &logDrains{p: m.p, log: slog.New(slog.DiscardHandler)}
	defer d.close()
	ctx := context.Background()
	if err := d.AddDrain(ctx, app, srv.URL+"/logs"); err != nil {
		t.Fatal(err)
	}
	send := func(text string) {
		if err := m.p.Log(ctx, app, logplex.Message{Source: "app", Proc: "web.1", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	// The drain follows the log from when its feed starts: wait for that.
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(received(), "ready") {
		if time.Now().After(deadline) {
			t.Fatal("the drain never got its first line")
		}
		send("ready")
		time.Sleep(50 * time.Millisecond)
	}
	const n = 5000
	for i := range n {
		send(fmt.Sprintf("burst %d", i))
	}
	l10 := regexp.MustCompile(`^Error L10 \(output buffer overflow\): (\d+) messages dropped since `)
	var delivered, dropped int
	deadline = time.Now().Add(30 * time.Second)
	for {
		got := received()
		delivered, dropped = 0, 0
		for _, text := range got {
			switch {
			case strings.HasPrefix(text, "burst "):
				delivered++
			case l10.MatchString(text):
				k, _ := strconv.Atoi(l10.FindStringSubmatch(text)[1])
				dropped += k
			case strings.Contains(text, "L11"):
				t.Fatalf("the drain got a tail's overflow notice: %s", text)
			}
		}
		if delivered+dropped >= n && slices.Contains(got, fmt.Sprintf("burst %d", n-1)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d burst lines delivered, %d reported dropped; newest delivered: %v",
				delivered, n, dropped, slices.Contains(got, fmt.Sprintf("burst %d", n-1)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if delivered+dropped != n {
		t.Errorf("%d delivered + %d reported dropped, want %d", delivered, dropped, n)
	}
	t.Logf("%d delivered, %d dropped with an L10 notice", delivered, dropped)
}

// A TLS syslog drain whose certificate does not verify puts an L14 line in
// the app's own log, as on Heroku, instead of failing in silence.
func TestLogDrainCertificateL14(t *testing.T) {
	m := startMinipaas(t)
	const app = "badcert"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate no one trusts
	defer srv.Close()
	d := &logDrains{p: m.p, log: slog.New(slog.DiscardHandler)}
	defer d.close()
	ctx := context.Background()
	url := "syslog+tls://" + srv.Listener.Addr().String()
	if err := d.AddDrain(ctx, app, url); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = m.p.Log(ctx, app, logplex.Message{Source: "app", Proc: "web.1", Text: "hello"})
		logs, err := m.p.Logs(ctx, app, logplex.TailOptions{Lines: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for msg, err := range logs {
			if err == nil && strings.HasPrefix(msg.Text, "Error L14 (certificate validation): ") {
				if msg.Source != "heroku" || msg.Proc != "logplex" || !strings.Contains(msg.Text, `uri="`+url+`/"`) {
					t.Errorf("L14 line: %+v", msg)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no L14 line in the app's log")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
