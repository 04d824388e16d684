package pty_test

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/pty"
)

// run starts script in bash on a new terminal of cols × rows, writes
// input to it once the output shows ready, and returns everything the
// terminal printed.
func run(t *testing.T, cols, rows int, script, ready, input string) string {
	t.Helper()
	m, s, err := pty.Open(cols, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = pty.Attr()
	if err := cmd.Start(); err != nil {
		s.Close()
		t.Fatal(err)
	}
	s.Close() // the process holds the terminal end now
	out := make(chan string)
	seen := make(chan struct{})
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 512)
		waiting := ready != ""
		if !waiting {
			close(seen)
		}
		for {
			n, err := m.Read(buf)
			b.Write(buf[:n])
			if waiting && strings.Contains(b.String(), ready) {
				close(seen)
				waiting = false
			}
			if err != nil { // EIO when the process is gone
				break
			}
		}
		out <- b.String()
	}()
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		t.Fatalf("%q never printed %q", script, ready)
	}
	if _, err := io.WriteString(m, input); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%q did not end", script)
	}
	return <-out
}

func TestTerminal(t *testing.T) {
	for _, tc := range []struct {
		name, script, ready, input string
		want                       []string
	}{
		{"size and isatty", `stty size; test -t 0 && test -t 1 && echo on-a-tty`, "", "", []string{"30 100\r\n", "on-a-tty\r\n"}},
		{"default size", `stty size`, "", "", []string{"24 80\r\n"}},
		// CR ends a line (ICRNL), and the line is echoed.
		{"carriage return", `read -r line; echo "got <$line>"`, "", "hello\r", []string{"hello\r\n", "got <hello>\r\n"}},
		// ^D at the start of a line is end of input.
		{"end of input", `cat; echo "cat ended"`, "", "one\rtwo\r\x04", []string{"one\r\n", "two\r\n", "cat ended\r\n"}},
		// ^C interrupts the foreground process group.
		{"interrupt", `trap 'echo interrupted; exit 3' INT; echo ready; for ((i = 0; i < 200; i++)); do sleep 0.1; done; echo "no interrupt"`, "ready", "\x03", []string{"interrupted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cols, rows := 0, 0
			if tc.name == "size and isatty" {
				cols, rows = 100, 30
			}
			got := run(t, cols, rows, tc.script, tc.ready, tc.input)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output %q lacks %q", got, w)
				}
			}
		})
	}
}

func TestOpenRefusesBadSizes(t *testing.T) {
	for _, sz := range [][2]int{{-1, 24}, {80, 70000}} {
		if m, s, err := pty.Open(sz[0], sz[1]); err == nil || !strings.Contains(err.Error(), "0–65535") {
			t.Errorf("Open(%d, %d): %v, want a size error", sz[0], sz[1], err)
			if err == nil {
				m.Close()
				s.Close()
			}
		}
	}
}

func TestSetSize(t *testing.T) {
	m, s, err := pty.Open(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer s.Close()
	if err := pty.SetSize(m, 132, 43); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("stty", "-F", s.Name(), "size").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "43 132" {
		t.Errorf("stty size %q, want 43 132", got)
	}
}
