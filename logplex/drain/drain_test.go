package drain_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/drain"
	"github.com/dynokit/dynokit/logplex/internal/testca"
	"github.com/dynokit/dynokit/logplex/logplextest"
	"github.com/dynokit/dynokit/logplex/syslog"
)

const token = "d.0d9e2c5a-7f6b-4f3e-9a51-1c2b3d4e5f60"

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func line(i int) logplex.Message {
	return logplex.Message{Time: t0.Add(time.Duration(i) * time.Millisecond), App: "demo", Source: "app", Proc: "web.1", Text: fmt.Sprintf("line %d", i)}
}

// listen runs our own syslog listener (TCP or TLS) into a Recorder.
func listen(t *testing.T, tlsConfig *testca.CA, app string) (string, *logplextest.Recorder) {
	got := &logplextest.Recorder{}
	l := &syslog.Listener{Sink: got, Route: syslog.DrainRoute(app)}
	if tlsConfig != nil {
		l.TLSConfig = tlsConfig.ServerConfig()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), got
}

func TestSyslogDrainConformance(t *testing.T) {
	ca := testca.New(t)
	for _, withTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", withTLS), func(t *testing.T) {
			logplextest.TestDrain(t, func(t *testing.T) (logplex.Drain, logplextest.Delivered) {
				var c *testca.CA
				if withTLS {
					c = ca
				}
				addr, got := listen(t, c, logplextest.App)
				d := &drain.Syslog{Addr: addr, Token: token}
				if withTLS {
					d.TLS = ca.ClientConfig()
				}
				run(t, d)
				return d, got.Messages
			})
		})
	}
}

func TestHTTPSDrainConformance(t *testing.T) {
	logplextest.TestDrain(t, func(t *testing.T) (logplex.Drain, logplextest.Delivered) {
		got := &logplextest.Recorder{}
		srv := httptest.NewTLSServer(&syslog.InputHandler{Sink: got, Route: syslog.DrainRoute(logplextest.App), Dialect: syslog.HTTPSDrain})
		t.Cleanup(srv.Close)
		d := &drain.HTTPS{URL: srv.URL + "/logs", Token: token, Client: srv.Client()}
		run(t, d)
		return d, got.Messages
	})
}

// notices sums the counts of L10 notices among received texts.
var l10 = regexp.MustCompile(`^Error L10 \(output buffer overflow\): (\d+) messages dropped since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00\.$`)

func countDropped(t *testing.T, texts []string) (lines []string, dropped int) {
	for _, s := range texts {
		if strings.HasPrefix(s, "Error L10") {
			m := l10.FindStringSubmatch(s)
			if m == nil {
				t.Fatalf("malformed L10 notice %q", s)
			}
			n, _ := strconv.Atoi(m[1])
			dropped += n
			continue
		}
		lines = append(lines, s)
	}
	return lines, dropped
}

// parseReceived splits an rsyslog output line into its parsed fields and
// our message re-parsed from the raw text rsyslog received.
func parseReceived(t *testing.T, l string) (host, app, procid string, m syslog.Message) {
	t.Helper()
	parts := strings.SplitN(l, " ", 4)
	if len(parts) != 4 {
		t.Fatalf("bad rsyslog line %q", l)
	}
	m, err := syslog.Parse([]byte(parts[3]))
	if err != nil {
		t.Fatalf("rsyslog received %q, which does not parse: %v", parts[3], err)
	}
	return parts[0], parts[1], parts[2], m
}

func TestSyslogIntoRealRsyslog(t *testing.T) {
	rs := startRsyslog(t, nil, "")
	d := &drain.Syslog{Addr: rs.Addr, Token: token, Buffer: 300, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	run(t, d)
	ctx := context.Background()

	// Phase 1: 1,000 lines, paced so the buffer never overflows.
	procs := []struct{ source, proc string }{{"app", "web.1"}, {"app", "worker.2"}, {"heroku", "router"}, {"app", "run.1234"}}
	for i := range 1000 {
		m := line(i)
		m.Source, m.Proc = procs[i%4].source, procs[i%4].proc
		if i == 5 {
			m.Text = `ünïcödé "quoted" [bracketed] \backslash\ ` + strings.Repeat("long ", 1990)
		}
		if err := d.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			waitUntil(t, "drain to catch up", func() bool { return d.Stats().Queued == 0 })
		}
	}
	waitUntil(t, "1000 lines in rsyslog", func() bool { return len(rs.lines()) >= 1000 })
	got := rs.lines()
	if len(got) != 1000 {
		t.Fatalf("rsyslog got %d lines, want 1000", len(got))
	}
	for i, l := range got {
		host, app, procid, m := parseReceived(t, l)
		want := line(i)
		want.Source, want.Proc = procs[i%4].source, procs[i%4].proc
		if i == 5 {
			want.Text = `ünïcödé "quoted" [bracketed] \backslash\ ` + strings.Repeat("long ", 1990)
		}
		if host != token || app != want.Source || procid != want.Proc || m.Text != want.Text || !m.Time.Equal(want.Time) {
			t.Fatalf("line %d: rsyslog saw host=%s app=%s procid=%s %+v, want %+v", i, host, app, procid, m, want)
		}
	}

	// Phase 2: rsyslog is killed; 2,000 lines are sent while it is down.
	rs.kill()
	time.Sleep(100 * time.Millisecond) // let the drain see the connection close
	for i := 1000; i < 3000; i++ {
		d.Send(ctx, line(i))
	}
	rs.restart()
	waitUntil(t, "drain to deliver after the restart", func() bool {
		st := d.Stats()
		return st.Queued == 0 && st.Dropped == st.Reported
	})
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	st := d.Stats()
	waitUntil(t, "rsyslog to write everything", func() bool { return len(rs.lines()) >= 1000+int(st.Delivered-1000)+int(st.Notices) })
	var texts []string
	for _, l := range rs.lines()[1000:] {
		_, _, _, m := parseReceived(t, l)
		texts = append(texts, m.Text)
	}
	lines, dropped := countDropped(t, texts)
	t.Logf("after restart: %d lines delivered, %d reported dropped, stats %+v", len(lines), dropped, st)
	if len(lines)+dropped != 2000 {
		t.Fatalf("delivered %d + reported dropped %d != 2000 sent while down", len(lines), dropped)
	}
	if dropped == 0 {
		t.Fatal("nothing dropped with a 300-message buffer and 2000 lines sent while down")
	}
	if st.Sent != 3000 || st.Delivered+st.Dropped != st.Sent || st.Dropped != st.Reported {
		t.Fatalf("stats %+v", st)
	}
	// Order is kept and the newest lines survive.
	last := -1
	for _, s := range lines {
		n, _ := strconv.Atoi(strings.TrimPrefix(s, "line "))
		if n <= last {
			t.Fatalf("line %d after line %d", n, last)
		}
		last = n
	}
	if last != 2999 {
		t.Fatalf("last line delivered %d, want 2999", last)
	}
}

func TestSyslogTLSIntoRealRsyslog(t *testing.T) {
	ca := testca.New(t)
	for _, driver := range []string{"gtls", "ossl"} {
		t.Run(driver, func(t *testing.T) {
			rs := startRsyslog(t, ca, driver)
			d := &drain.Syslog{Addr: rs.Addr, Token: token, TLS: ca.ClientConfig()}
			run(t, d)
			for i := range 200 {
				d.Send(context.Background(), line(i))
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := d.Shutdown(sctx); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "200 lines in rsyslog", func() bool { return len(rs.lines()) >= 200 })
			for i, l := range rs.lines() {
				host, app, procid, m := parseReceived(t, l)
				if host != token || app != "app" || procid != "web.1" || m.Text != line(i).Text {
					t.Fatalf("line %d: %q", i, l)
				}
			}
		})
	}
}

func TestSyslogTLSBadCertificate(t *testing.T) {
	ca, other := testca.New(t), testca.New(t)
	addr, got := listen(t, ca, "demo")
	appLog := &logplextest.Recorder{}
	d := &drain.Syslog{Addr: addr, Token: token, TLS: other.ClientConfig(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Errors: appLog}
	run(t, d)
	d.Send(context.Background(), line(1))
	time.Sleep(200 * time.Millisecond)
	notices := appLog.Messages()
	if len(notices) != 1 || notices[0].App != "demo" || notices[0].Proc != "logplex" ||
		!strings.HasPrefix(notices[0].Text, `Error L14 (certificate validation): error="x509: certificate signed by unknown authority`) ||
		!strings.HasSuffix(notices[0].Text, ` uri="syslog+tls://`+addr+`/"`) {
		t.Fatalf("app log got %+v, want one L14 line", notices)
	}
	if n := len(got.Messages()); n != 0 {
		t.Fatalf("%d messages went to an endpoint with an untrusted certificate", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := d.Shutdown(ctx); err == nil || !strings.Contains(err.Error(), "1 messages dropped") {
		t.Fatalf("Shutdown = %v, want 1 dropped", err)
	}
}

// An endpoint that accepts and never reads must not block Send, the other
// drains, or Shutdown beyond its ctx; every line is accounted for.
func TestSyslogHungEndpoint(t *testing.T) {
	// A tiny receive buffer (inherited by accepted sockets) so that the
	// kernel cannot absorb megabytes on the endpoint's behalf.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	hung := &drain.Syslog{Addr: ln.Addr().String(), Token: token, Buffer: 500, WriteTimeout: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	addr, got := listen(t, nil, "demo")
	healthy := &drain.Syslog{Addr: addr, Token: token, Buffer: 20000}
	var set drain.Set
	set.Add(hung)
	set.Add(healthy)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- set.Run(ctx) }()

	big := strings.Repeat("x", 5000) // fill the socket buffers quickly
	start := time.Now()
	const n = 4000
	for i := range n {
		m := line(i)
		m.Text += " " + big
		if err := set.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("sending %d lines took %v with a hung drain", n, d)
	}
	waitUntil(t, "the healthy drain to deliver everything", func() bool { return len(got.Messages()) >= n })
	sctx, scancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer scancel()
	start = time.Now()
	err = set.Shutdown(sctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v with a 500ms ctx", d)
	}
	// The kernel buffers of each new connection absorb some lines, so
	// whether lines are still pending at shutdown varies; if they are, the
	// error names only the hung drain.
	if err != nil {
		var merr *multierror.Error
		if !errors.As(err, &merr) || len(merr.Errors) != 1 || !strings.Contains(err.Error(), ln.Addr().String()) {
			t.Fatalf("Shutdown = %v, want one error, for the hung drain", err)
		}
	}
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := hung.Stats()
	t.Logf("hung drain: %+v", st)
	if st.Sent != n || st.Delivered+st.Dropped != st.Sent || st.Dropped == 0 || st.Queued != 0 {
		t.Fatalf("hung drain stats do not add up: %+v", st)
	}
	if hs := healthy.Stats(); hs.Delivered != n || hs.Dropped != 0 {
		t.Fatalf("healthy drain stats %+v", hs)
	}
}

// httpsRecorder is an HTTPS drain endpoint that records requests and
// answers with scripted statuses.
type httpsRecorder struct {
	mu       sync.Mutex
	reqs     []recorded
	statuses []int // consumed one per request; then 200
	got      []logplex.Message
}

type recorded struct {
	at     time.Time
	header http.Header
	status int
	msgs   []syslog.Message
}

func (h *httpsRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	msgs, err := syslog.ParseBatch(body, syslog.HTTPSDrain)
	h.mu.Lock()
	defer h.mu.Unlock()
	status := http.StatusOK
	if len(h.statuses) > 0 {
		status, h.statuses = h.statuses[0], h.statuses[1:]
	}
	if err != nil {
		status = http.StatusBadRequest
	}
	h.reqs = append(h.reqs, recorded{at: time.Now(), header: r.Header.Clone(), status: status, msgs: msgs})
	if status == http.StatusOK {
		for _, m := range msgs {
			h.got = append(h.got, m.Logplex("demo"))
		}
	}
	w.WriteHeader(status)
}

func (h *httpsRecorder) snapshot() ([]recorded, []logplex.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]recorded(nil), h.reqs...), append([]logplex.Message(nil), h.got...)
}

func TestHTTPSHeadersRetryAndBackoff(t *testing.T) {
	rec := &httpsRecorder{statuses: []int{503, 500}}
	srv := httptest.NewTLSServer(rec)
	defer srv.Close()
	u := strings.Replace(srv.URL, "https://", "https://user:s3cret@", 1) + "/logs"
	d := &drain.HTTPS{URL: u, Token: token, Client: srv.Client(), MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}
	for i := range 3 {
		d.Send(context.Background(), line(i))
	}
	run(t, d)
	waitUntil(t, "a successful POST", func() bool { _, got := rec.snapshot(); return len(got) == 3 })
	reqs, got := rec.snapshot()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (503, 500, 200)", len(reqs))
	}
	for i, r := range reqs {
		h := r.header
		if h.Get("Content-Type") != "application/logplex-1" || h.Get("Logplex-Msg-Count") != "3" ||
			h.Get("Logplex-Drain-Token") != token || !strings.HasPrefix(h.Get("User-Agent"), "Logplex/") {
			t.Errorf("request %d headers %v", i, h)
		}
		if h.Get("Logplex-Frame-Id") == "" || h.Get("Logplex-Frame-Id") != reqs[0].header.Get("Logplex-Frame-Id") {
			t.Errorf("request %d Frame-Id %q, want the first one %q reused", i, h.Get("Logplex-Frame-Id"), reqs[0].header.Get("Logplex-Frame-Id"))
		}
		if user, pass, ok := (&http.Request{Header: h}).BasicAuth(); !ok || user != "user" || pass != "s3cret" {
			t.Errorf("request %d basic auth %q %q %v", i, user, pass, ok)
		}
		if len(r.msgs) != 3 || r.msgs[0].Hostname != "host" || r.msgs[0].AppName != "app" || r.msgs[0].ProcID != "web.1" {
			t.Errorf("request %d body %+v", i, r.msgs)
		}
	}
	if gap1, gap2 := reqs[1].at.Sub(reqs[0].at), reqs[2].at.Sub(reqs[1].at); gap1 < 50*time.Millisecond || gap2 < 100*time.Millisecond {
		t.Errorf("retry gaps %v, %v; want back-off of at least 50ms then 100ms", gap1, gap2)
	}
	for i, m := range got {
		if m.Text != line(i).Text || !m.Time.Equal(line(i).Time) {
			t.Errorf("message %d %+v", i, m)
		}
	}
	// A new batch gets a new frame id.
	d.Send(context.Background(), line(3))
	waitUntil(t, "second batch", func() bool { reqs, _ := rec.snapshot(); return len(reqs) == 4 })
	reqs, _ = rec.snapshot()
	if reqs[3].header.Get("Logplex-Frame-Id") == reqs[0].header.Get("Logplex-Frame-Id") {
		t.Error("a new batch reused the previous frame id")
	}
}

// While the endpoint fails, batches are dropped after their attempts and
// the buffer overflows; once it recovers an L10 notice carries the count.
func TestHTTPSOverflowL10(t *testing.T) {
	rec := &httpsRecorder{}
	var failing sync.Mutex
	down := true
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failing.Lock()
		isDown := down
		failing.Unlock()
		if isDown {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rec.ServeHTTP(w, r)
	}))
	defer srv.Close()
	d := &drain.HTTPS{URL: srv.URL, Token: token, Client: srv.Client(), Buffer: 100, Attempts: 2, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	run(t, d)
	const n = 1000
	for i := range n {
		d.Send(context.Background(), line(i))
	}
	time.Sleep(100 * time.Millisecond)
	failing.Lock()
	down = false
	failing.Unlock()
	waitUntil(t, "recovery", func() bool {
		st := d.Stats()
		return st.Queued == 0 && st.Dropped == st.Reported && st.Delivered+st.Dropped == n
	})
	_, got := rec.snapshot()
	var texts []string
	for _, m := range got {
		texts = append(texts, m.Text)
	}
	lines, dropped := countDropped(t, texts)
	if dropped == 0 || len(lines)+dropped != n {
		t.Fatalf("delivered %d + reported %d, want %d with some dropped", len(lines), dropped, n)
	}
	if got[0].Source != "heroku" || got[0].Proc != "logplex" {
		t.Errorf("first delivered after recovery is %+v, want the L10 notice", got[0])
	}
}

func TestNewFromURL(t *testing.T) {
	cases := []struct {
		url     string
		kind    string
		wantErr string
	}{
		{"syslog://logs.example.com:514", "*drain.Syslog", ""},
		{"syslog+tls://logs.example.com:6514", "*drain.Syslog", ""},
		{"https://user:pass@logs.example.com/path", "*drain.HTTPS", ""},
		{"http://logs.example.com/path", "*drain.HTTPS", ""},
		{"syslog://logs.example.com", "", "want syslog://host:port"},
		{"ftp://x/y", "", `scheme "ftp"`},
		{"https:///nohost", "", "want https://host/path"},
	}
	for _, c := range cases {
		d, err := drain.New(c.url, token, nil)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("New(%q) = %v, want error containing %q", c.url, err, c.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprintf("%T", d) != c.kind {
			t.Errorf("New(%q) = %T, %v; want %s", c.url, d, err, c.kind)
		}
	}
	d, _ := drain.New("syslog+tls://logs.example.com:6514", token, nil)
	if s := d.(*drain.Syslog); s.TLS == nil || s.TLS.ServerName != "logs.example.com" {
		t.Errorf("TLS config %+v", s.TLS)
	}
}

func TestSendAfterShutdown(t *testing.T) {
	addr, _ := listen(t, nil, "demo")
	d := &drain.Syslog{Addr: addr, Token: token}
	run(t, d)
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Send(context.Background(), line(1)); !errors.Is(err, drain.ErrClosed) {
		t.Fatalf("Send after Shutdown = %v, want ErrClosed", err)
	}
}

func TestOverflowNoticeWording(t *testing.T) {
	m := drain.OverflowNotice("demo", time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), 42, time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.FixedZone("X", 3600)))
	want := "2026-01-01T00:00:01.000000+00:00 heroku[logplex]: Error L10 (output buffer overflow): 42 messages dropped since 2025-12-31T23:00:00.123456+00:00."
	if m.String() != want || m.App != "demo" {
		t.Fatalf("got %q (app %q), want %q", m.String(), m.App, want)
	}
}

// Batches stay near the 100 KB target: every POST but the ones holding a
// single line is at most BatchBytes plus header estimates.
func TestHTTPSBatchSize(t *testing.T) {
	rec := &httpsRecorder{}
	var sizes []int
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sizes = append(sizes, int(r.ContentLength))
		mu.Unlock()
		rec.ServeHTTP(w, r)
	}))
	defer srv.Close()
	d := &drain.HTTPS{URL: srv.URL, Token: token, Client: srv.Client(), Buffer: 5000}
	text := strings.Repeat("y", 1000)
	for i := range 2000 {
		m := line(i)
		m.Text = text
		d.Send(context.Background(), m)
	}
	run(t, d)
	waitUntil(t, "all lines", func() bool { _, got := rec.snapshot(); return len(got) == 2000 })
	reqs, _ := rec.snapshot()
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) < 20 {
		t.Fatalf("%d POSTs for 2 MB of lines, want at least 20 of about 100 KB", len(reqs))
	}
	for i, r := range reqs {
		if n, _ := strconv.Atoi(r.header.Get("Logplex-Msg-Count")); n != len(r.msgs) {
			t.Errorf("POST %d: Logplex-Msg-Count %d for %d frames", i, n, len(r.msgs))
		}
		if sizes[i] > drain.DefaultBatchBytes+2000 {
			t.Errorf("POST %d: %d bytes, over the %d target", i, sizes[i], drain.DefaultBatchBytes)
		}
	}
}

// TestHTTPSRedirectIsNotDelivery: an endpoint answering with a redirect
// has not taken the batch. Following a 302 would re-send it as a bodiless
// GET, whose 200 would count the lines as delivered. Once the endpoint
// takes POSTs again, the L10 notice reports the dropped line.
func TestHTTPSRedirectIsNotDelivery(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			rec := &httpsRecorder{}
			var redirecting atomic.Bool
			redirecting.Store(true)
			var redirects, followed atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/moved":
					followed.Add(1)
				case redirecting.Load():
					redirects.Add(1)
					http.Redirect(w, r, "/moved", status)
				default:
					rec.ServeHTTP(w, r)
				}
			}))
			defer srv.Close()
			d := &drain.HTTPS{URL: srv.URL + "/logs", Token: token, Attempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
			d.Send(context.Background(), line(0))
			run(t, d)
			waitUntil(t, "the batch dropped", func() bool { return d.Stats().Dropped == 1 })
			if st := d.Stats(); st.Delivered != 0 || redirects.Load() < 2 || followed.Load() != 0 {
				t.Errorf("stats %+v after %d redirects, %d followed; want nothing delivered, none followed", st, redirects.Load(), followed.Load())
			}
			redirecting.Store(false)
			waitUntil(t, "the L10 notice", func() bool {
				_, got := rec.snapshot()
				return len(got) == 1 && strings.Contains(got[0].Text, "Error L10 (output buffer overflow): 1 messages dropped")
			})
		})
	}
}
