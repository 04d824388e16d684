package logplex_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

func newSessionServer(t *testing.T) (*logplex.Buffer, *logplex.Sessions, *httptest.Server, *time.Time) {
	b := &logplex.Buffer{}
	var mu sync.Mutex
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	s := &logplex.Sessions{Source: b, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	mux := http.NewServeMux()
	mux.Handle("GET /sessions/{id}", s)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for i, p := range []struct{ source, proc string }{{"app", "web.1"}, {"heroku", "router"}, {"app", "web.2"}, {"app", "worker.1"}} {
		m := line(i)
		m.Source, m.Proc = p.source, p.proc
		b.Send(context.Background(), m)
	}
	return b, s, srv, &now
}

func get(t *testing.T, url string, sse bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if sse {
		// What the heroku CLI's EventSource sends.
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		req.Header.Set("User-Agent", "heroku-run")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestSessionPlainText(t *testing.T) {
	_, s, srv, _ := newSessionServer(t)
	sess, err := s.Create("demo", logplex.SessionOptions{Lines: 2})
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, sess.URL(srv.URL+"/sessions"), false)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("transfer encoding %v, want chunked", resp.TransferEncoding)
	}
	if !resp.Close {
		t.Error("the connection stays open after the session's lines (Logplex answers Connection: close)")
	}
	want := "2026-11-21T12:00:02.000000+00:00 app[web.2]: line 2\n2026-11-21T12:00:03.000000+00:00 app[worker.1]: line 3\n"
	if string(body) != want {
		t.Errorf("body:\n%s\nwant:\n%s", body, want)
	}
}

func TestSessionSSEFiltersAndTail(t *testing.T) {
	b, s, srv, _ := newSessionServer(t)
	sess, err := s.Create("demo", logplex.SessionOptions{Lines: 200, Source: "app", Dyno: "web", Tail: true})
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, sess.URL(srv.URL+"/sessions"), true)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	readEvent := func() string {
		t.Helper()
		var data []string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading event: %v", err)
			}
			l = strings.TrimSuffix(l, "\n")
			if l == "" {
				return strings.Join(data, "\n")
			}
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				data = append(data, d)
			}
		}
	}
	for _, want := range []string{"line 0", "line 2"} {
		if ev := readEvent(); !strings.HasSuffix(ev, want) {
			t.Fatalf("history event %q, want …%s", ev, want)
		}
	}
	// Following: a filtered-out line, then one that passes, with a newline.
	m := line(10)
	m.Proc = "worker.1"
	b.Send(context.Background(), m)
	m = line(11)
	m.Proc, m.Text = "web.3", "first\nsecond"
	b.Send(context.Background(), m)
	if ev := readEvent(); ev != "2026-11-21T12:00:11.000000+00:00 app[web.3]: first\nsecond" {
		t.Fatalf("followed event %q", ev)
	}
}

func TestSessionAuthAndExpiry(t *testing.T) {
	_, s, srv, now := newSessionServer(t)
	sess, err := s.Create("demo", logplex.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := sess.URL(srv.URL + "/sessions")
	if resp := get(t, strings.Replace(good, "secret=", "secret=x", 1), false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("wrong secret: status %d, want 403", resp.StatusCode)
	}
	if resp := get(t, strings.Split(good, "?")[0], false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("no secret: status %d, want 403", resp.StatusCode)
	}
	if resp := get(t, srv.URL+"/sessions/nope?secret=x", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session: status %d, want 404", resp.StatusCode)
	}
	if resp := get(t, good, false); resp.StatusCode != 200 {
		t.Errorf("good session: status %d", resp.StatusCode)
	}
	*now = now.Add(logplex.DefaultSessionTTL)
	if resp := get(t, good, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("expired session: status %d, want 404", resp.StatusCode)
	}
}

func TestSessionCreateRejects(t *testing.T) {
	s := &logplex.Sessions{Source: &logplex.Buffer{}}
	for _, opt := range []logplex.SessionOptions{{Lines: 1501}, {Lines: -1}, {Dyno: "web 1"}} {
		if _, err := s.Create("demo", opt); !errors.Is(err, logplex.ErrInvalidOptions) {
			t.Errorf("Create(%+v) = %v, want ErrInvalidOptions", opt, err)
		}
	}
	if _, err := s.Create("", logplex.SessionOptions{}); err == nil {
		t.Error("Create with no app succeeded")
	}
}
