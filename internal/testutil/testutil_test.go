package testutil

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// recorder keeps what Golden reports instead of failing the real test;
// Fatalf ends the goroutine as testing.T's does.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.golden")
	golden := func(got string, update bool) []string {
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Golden(r, path, []byte(got), update)
		}()
		<-done
		return r.msgs
	}
	if msgs := golden("a\n", false); len(msgs) != 1 {
		t.Fatalf("missing golden file: got reports %q, want one", msgs)
	}
	if msgs := golden("a\n", true); len(msgs) != 0 {
		t.Fatalf("update reported %q", msgs)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "a\n" {
		t.Fatalf("update wrote %q (%v)", b, err)
	}
	if msgs := golden("a\n", false); len(msgs) != 0 {
		t.Fatalf("equal output reported %q", msgs)
	}
	if msgs := golden("b\n", false); len(msgs) != 1 {
		t.Fatalf("different output: got reports %q, want one", msgs)
	}
}

func TestProcess(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	p, err := Start(exec.Command(sleep, "60"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
		t.Fatal("exited at once")
	default:
	}
	p.Stop(syscall.SIGTERM, 10*time.Second)
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Stop")
	}
	(*Process)(nil).Stop(syscall.SIGTERM, time.Second)

	if _, err := Start(exec.Command(filepath.Join(t.TempDir(), "missing"))); err == nil {
		t.Error("Start of a missing binary succeeded")
	}
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	l.Close()
}

func TestSelfSigned(t *testing.T) {
	from, to := time.Now().Add(-time.Minute).Truncate(time.Second), time.Now().Add(time.Hour).Truncate(time.Second)
	c := SelfSigned(t, "cn.test", []string{"a.test", "*.b.test"}, from, to)
	pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		t.Fatalf("the PEM pair does not load: %v", err)
	}
	if !pair.Leaf.Equal(c.Leaf) || !c.TLS.Leaf.Equal(c.Leaf) {
		t.Error("the PEM pair, TLS certificate and leaf differ")
	}
	if c.Leaf.Subject.CommonName != "cn.test" || !c.Leaf.NotBefore.Equal(from) || !c.Leaf.NotAfter.Equal(to) {
		t.Errorf("leaf %s, valid %v to %v", c.Leaf.Subject, c.Leaf.NotBefore, c.Leaf.NotAfter)
	}
	for _, name := range []string{"a.test", "x.b.test"} {
		if err := c.Leaf.VerifyHostname(name); err != nil {
			t.Error(err)
		}
	}
	if err := c.Leaf.VerifyHostname("c.test"); err == nil {
		t.Error("verifies for a name it does not cover")
	}
}

func TestServeConns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	blocked := make(chan struct{})
	t.Run("serve", func(t *testing.T) {
		ServeConns(t, ln, func(c net.Conn) {
			b := make([]byte, 4)
			n, _ := c.Read(b)
			c.Write(b[:n])
			close(blocked)
			c.Read(b) // until the end of the subtest closes c
		})
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("ping"))
		b := make([]byte, 4)
		if _, err := c.Read(b); err != nil || string(b) != "ping" {
			t.Fatalf("echo: %q, %v", b, err)
		}
		<-blocked
	})
	// The subtest's end closed the listener and the blocked connection, and
	// waited for its handler.
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener still accepts after the test")
	}
}
