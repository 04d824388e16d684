package postgres

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseLogLines(t *testing.T) {
	stmt := `{"timestamp":"2026-11-23 02:53:26.900 UTC","user":"u1","dbname":"pg1","pid":7,"line_num":3,"error_severity":"LOG","message":"duration: 0.2 ms  statement: SELECT 1"}` + "\n"
	errLine := `{"timestamp":"2026-11-23 02:53:27.000 UTC","user":"u1","dbname":"pg1","pid":7,"line_num":4,"error_severity":"ERROR","state_code":"42P01","message":"relation \"x\" does not exist","statement":"SELECT * FROM x","hint":"h","detail":"d"}` + "\n"
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339Nano, s); return t }
	tests := []struct {
		name string
		in   string
		want []LogEntry
		used int
	}{
		{"empty", "", nil, 0},
		{"a line without its newline waits", stmt[:len(stmt)-1], nil, 0},
		{"two lines", stmt + errLine, []LogEntry{
			{Time: at("2026-11-23T02:53:26.9Z"), Database: "pg1", User: "u1", PID: 7, Line: 3, Severity: "LOG", SQLState: "00000", Message: "duration: 0.2 ms  statement: SELECT 1"},
			{Time: at("2026-11-23T02:53:27Z"), Database: "pg1", User: "u1", PID: 7, Line: 4, Severity: "ERROR", SQLState: "42P01", Message: `relation "x" does not exist`, Statement: "SELECT * FROM x", Hint: "h", Detail: "d"},
		}, len(stmt) + len(errLine)},
		{"a line then part of one", stmt + errLine[:20], []LogEntry{
			{Time: at("2026-11-23T02:53:26.9Z"), Database: "pg1", User: "u1", PID: 7, Line: 3, Severity: "LOG", SQLState: "00000", Message: "duration: 0.2 ms  statement: SELECT 1"},
		}, len(stmt)},
		{"lines that are not JSON objects are passed over", "not json\n[1,2]\n\n" + stmt, []LogEntry{
			{Time: at("2026-11-23T02:53:26.9Z"), Database: "pg1", User: "u1", PID: 7, Line: 3, Severity: "LOG", SQLState: "00000", Message: "duration: 0.2 ms  statement: SELECT 1"},
		}, len("not json\n[1,2]\n\n") + len(stmt)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, used := parseLogLines([]byte(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" || used != tt.used {
				t.Errorf("parseLogLines: used %d, want %d; entries (-want +got):\n%s", used, tt.used, diff)
			}
		})
	}
}

func FuzzParseLogLines(f *testing.F) {
	f.Add([]byte(`{"timestamp":"2026-11-23 02:53:26.900 UTC","dbname":"pg1","pid":7,"error_severity":"LOG","message":"m"}` + "\n"))
	f.Add([]byte("not json\n{\"message\":1}\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, used := parseLogLines(data)
		if used < 0 || used > len(data) || (used > 0 && data[used-1] != '\n') {
			t.Fatalf("used %d of %d bytes, not at a line's end", used, len(data))
		}
		if bytes.Count(data[:used], []byte("\n")) < len(entries) {
			t.Fatalf("%d entries from %d lines", len(entries), bytes.Count(data[:used], []byte("\n")))
		}
		if bytes.IndexByte(data[used:], '\n') >= 0 {
			t.Fatal("a whole line was left unread")
		}
	})
}

// BenchmarkParseLogLines parses a read of 1,000 statement entries.
func BenchmarkParseLogLines(b *testing.B) {
	line := []byte(`{"timestamp":"2026-11-23 02:53:26.900 UTC","user":"pg0123","dbname":"pg0123","pid":7,"remote_host":"127.0.0.1","session_id":"6741a1.7","line_num":3,"ps":"SELECT","session_start":"2026-11-23 02:53:26 UTC","vxid":"3/7","txid":0,"error_severity":"LOG","message":"duration: 2012.301 ms  statement: SELECT * FROM ledger WHERE id = 42","application_name":"","backend_type":"client backend","query_id":0}` + "\n")
	data := bytes.Repeat(line, 1000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if entries, _ := parseLogLines(data); len(entries) != 1000 {
			b.Fatal(len(entries))
		}
	}
}
