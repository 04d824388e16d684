package syslog_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/logplex/internal/testca"
	"github.com/dynokit/dynokit/logplex/logplextest"
	"github.com/dynokit/dynokit/logplex/syslog"
)

func serve(t *testing.T, l *syslog.Listener) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func frames(msgs ...string) []byte {
	var b []byte
	for _, m := range msgs {
		b = syslog.AppendFrame(b, []byte(m))
	}
	return b
}

func TestListenerTCPAndTLS(t *testing.T) {
	ca := testca.New(t)
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			var got logplextest.Recorder
			l := &syslog.Listener{Sink: &got, Route: syslog.DrainRoute("demo")}
			if useTLS {
				l.TLSConfig = ca.ServerConfig()
			}
			addr := serve(t, l)
			var c net.Conn
			var err error
			if useTLS {
				c, err = tls.Dial("tcp", addr, ca.ClientConfig())
			} else {
				c, err = net.Dial("tcp", addr)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			data := frames(
				"<190>1 2026-11-21T00:00:01.000001+00:00 d.tok app web.1 - - hello world",
				"<190>1 2026-11-21T00:00:02Z d.tok app web.1 - - not a frame of ours: next one is bad",
				"garbage that does not parse",
				"<158>1 2026-11-21T00:00:03Z d.tok heroku router - - at=info status=200",
			)
			// Write in small pieces: frames cross packet boundaries.
			for i := 0; i < len(data); i += 7 {
				if _, err := c.Write(data[i:min(i+7, len(data))]); err != nil {
					t.Fatal(err)
				}
			}
			ms := logplextest.WaitFor(t, got.Messages, 3)
			if len(ms) != 3 {
				t.Fatalf("received %d messages, want 3 (the unparsable one skipped)", len(ms))
			}
			if ms[0].String() != "2026-11-21T00:00:01.000001+00:00 app[web.1]: hello world" || ms[0].App != "demo" {
				t.Errorf("first: %+v", ms[0])
			}
			if ms[2].Proc != "router" || ms[2].Source != "heroku" {
				t.Errorf("third: %+v", ms[2])
			}
		})
	}
}

func TestListenerClosesOnBadFraming(t *testing.T) {
	var got logplextest.Recorder
	addr := serve(t, &syslog.Listener{Sink: &got, Route: syslog.DrainRoute("demo")})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(append(frames("<0>1 - - a p - - one"), "not-a-length <0>1 - - a p - - two"...))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after bad framing = %v, want EOF (connection closed)", err)
	}
	if ms := logplextest.WaitFor(t, got.Messages, 1); len(ms) != 1 || ms[0].Text != "one" {
		t.Fatalf("received %+v", ms)
	}
}

func TestListenerRunNeedsRoute(t *testing.T) {
	l := &syslog.Listener{Addr: "127.0.0.1:0", Sink: &logplextest.Recorder{}}
	if err := l.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "Route") {
		t.Fatalf("Run without Route = %v", err)
	}
}

func tokens(token string) (string, string, bool) {
	if token == "t.feff49f1" {
		return "demo", "app", true
	}
	return "", "", false
}

func TestInputHandler(t *testing.T) {
	var got logplextest.Recorder
	srv := httptest.NewServer(&syslog.InputHandler{Sink: &got, Route: syslog.TokenRoute(tokens)})
	defer srv.Close()
	good := frames(
		"<134>1 2012-12-10T03:00:48.123456Z erlang t.feff49f1 console.1 - - message one",
		"<134>1 2012-12-10T03:00:49Z erlang t.feff49f1 web.2 - [meta x=\"1\"] message two",
	)
	cases := []struct {
		name, method, ctype, count string
		body                       []byte
		status                     int
		wantIn                     string
	}{
		{"good batch", "POST", "application/logplex-1", "2", good, 204, ""},
		{"count absent", "POST", "application/logplex-1", "", good, 204, ""},
		{"wrong count", "POST", "application/logplex-1", "3", good, 400, "body has 2 frames"},
		{"bad count", "POST", "application/logplex-1", "two", good, 400, "non-negative integer"},
		{"wrong type", "POST", "text/plain", "", good, 415, "application/logplex-1"},
		{"GET", "GET", "", "", nil, 405, "POST"},
		{"bad frame", "POST", "application/logplex-1", "", append(append([]byte{}, good...), "5 hello"...), 400, "frame 2"},
		{"broken framing", "POST", "application/logplex-1", "", append(append([]byte{}, good...), "99 short"...), 400, "frame 2"},
		{"unknown token", "POST", "application/logplex-1", "", frames("<134>1 - erlang t.other web.1 - - x"), 400, `unknown token "t.other"`},
		{"too big", "POST", "application/logplex-1", "", make([]byte, syslog.DefaultMaxBody+1), 413, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got.Reset()
			req, _ := http.NewRequest(c.method, srv.URL+"/logs", strings.NewReader(string(c.body)))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if c.count != "" {
				req.Header.Set("Logplex-Msg-Count", c.count)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.wantIn) {
				t.Fatalf("status %d %q, want %d containing %q", resp.StatusCode, body, c.status, c.wantIn)
			}
			want := 0
			if c.status == 204 {
				want = 2
			}
			ms := got.Messages()
			if len(ms) != want {
				t.Fatalf("%d messages sent on, want %d (batches are all or nothing)", len(ms), want)
			}
			if want == 2 && (ms[1].String() != "2012-12-10T03:00:49.000000+00:00 app[web.2]: message two" || ms[0].App != "demo") {
				t.Errorf("messages %+v", ms)
			}
		})
	}
}

func TestListenerRun(t *testing.T) {
	var got logplextest.Recorder
	addr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	l := &syslog.Listener{Addr: addr, Sink: &got, Route: syslog.DrainRoute("demo")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var c net.Conn
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err = net.Dial("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Write(frames("<190>1 - d.x app web.1 - - via Run"))
	if ms := logplextest.WaitFor(t, got.Messages, 1); len(ms) != 1 || ms[0].Text != "via Run" {
		t.Fatalf("received %+v", ms)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("open connection after Run returned: read = %v, want EOF", err)
	}
	c.Close()
}
