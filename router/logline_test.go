package router

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var logLineCases = []struct {
	name string
	e    LogEntry
}{
	{"info", LogEntry{Method: "GET", Path: "/", Host: "myapp.localhost", RequestID: "f9ed4675f1c53513c61a3b3b4e25b4c0",
		Fwd: "204.204.204.204", Dyno: "web.1", Connect: time.Millisecond, Service: 18 * time.Millisecond, Status: 200, Bytes: 13, Protocol: "https"}},
	{"H12", LogEntry{Code: H12, Method: "GET", Path: "/", Host: "myapp.localhost", RequestID: "0f3d8a7c-1111-2222-3333-444455556666",
		Fwd: "17.17.17.17", Dyno: "web.1", Connect: 6 * time.Millisecond, Service: 30001 * time.Millisecond, Status: 503, Bytes: 0, Protocol: "http"}},
	{"H14 no dyno", LogEntry{Code: H14, Method: "GET", Path: "/favicon.ico", Host: "myapp.localhost", RequestID: "abc",
		Fwd: "17.17.17.17", Connect: -1, Service: -1, Status: 503, Bytes: -1, Protocol: "http"}},
	{"H27 client", LogEntry{Sock: "client", Code: H27, Method: "POST", Path: "/upload", Host: "myapp.localhost", RequestID: "r",
		Fwd: "1.2.3.4", Dyno: "web.2", Connect: 0, Service: 250 * time.Millisecond, Status: 499, Bytes: -1, Protocol: "https"}},
	{"H26 cause", LogEntry{Code: H26, Cause: "unsupported expect header value", Method: "PUT", Path: "/x", Host: "myapp.localhost",
		RequestID: "r", Fwd: "1.2.3.4", Connect: -1, Service: -1, Status: 417, Bytes: -1, Protocol: "http"}},
	{"H80", LogEntry{Code: H80, Method: "GET", Path: "/", Host: "myapp.localhost", RequestID: "r", Fwd: "1.2.3.4",
		Connect: -1, Service: -1, Status: 503, Bytes: -1, Protocol: "http"}},
	{"hostile path", LogEntry{Method: "GET", Path: "/\" at=error code=H99 \\\x01", Host: "bad host\"", RequestID: "r r",
		Fwd: "1.2.3.4", Dyno: "web.1", Connect: 0, Service: 0, Status: 200, Bytes: 0, Protocol: "http"}},
}

func TestAppendLogLineGolden(t *testing.T) {
	var out bytes.Buffer
	for _, tc := range logLineCases {
		out.WriteString("# " + tc.name + "\n")
		out.Write(AppendLogLine(nil, &tc.e))
		out.WriteByte('\n')
	}
	golden := filepath.Join("testdata", "loglines.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("log lines differ from %s (run with -update after checking):\n%s", golden, got)
	}
}

// TestLogLineKeyOrder pins Heroku's key order independently of the golden
// file.
func TestLogLineKeyOrder(t *testing.T) {
	line := string(AppendLogLine(nil, &logLineCases[1].e))
	order := []string{"at=", "code=", "desc=", "method=", "path=", "host=", "request_id=", "fwd=", "dyno=", "connect=", "service=", "status=", "bytes=", "protocol="}
	pos := -1
	for _, k := range order {
		i := strings.Index(line, " "+k)
		if k == "at=" {
			i = strings.Index(line, k)
		}
		if i <= pos {
			t.Fatalf("key %s out of order in %s", k, line)
		}
		pos = i
	}
}

func FuzzAppendLogLine(f *testing.F) {
	for _, tc := range logLineCases {
		f.Add(tc.e.Path, tc.e.Host, tc.e.Fwd, tc.e.RequestID)
	}
	f.Fuzz(func(t *testing.T, path, host, fwd, id string) {
		e := LogEntry{Method: "GET", Path: path, Host: host, Fwd: fwd, RequestID: id, Dyno: "web.1", Status: 200, Protocol: "http"}
		line := string(AppendLogLine(nil, &e))
		// Whatever the client sends, the line stays one line with exactly
		// the keys we wrote: quotes are balanced and no raw control byte
		// or unquoted space sneaks in a forged key.
		if strings.ContainsAny(line, "\n\r") {
			t.Fatalf("line break in %q", line)
		}
		fields := splitLogFields(line)
		want := []string{"at", "method", "path", "host", "request_id", "fwd", "dyno", "connect", "service", "status", "bytes", "protocol"}
		if len(fields) != len(want) {
			t.Fatalf("fields %q, want keys %v", fields, want)
		}
		for i, k := range want {
			if !strings.HasPrefix(fields[i], k+"=") {
				t.Fatalf("field %d = %q, want key %s", i, fields[i], k)
			}
		}
	})
}

// splitLogFields splits a log line at spaces outside double quotes,
// honouring backslash escapes inside quotes.
func splitLogFields(line string) []string {
	var out []string
	var cur strings.Builder
	inQ, esc := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case esc:
			esc = false
		case inQ && c == '\\':
			esc = true
		case c == '"':
			inQ = !inQ
		case c == ' ' && !inQ:
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}
