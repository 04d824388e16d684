package drain_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/logplex/drain"
	"github.com/dynokit/dynokit/logplex/internal/testca"
)

// run starts d and shuts it down at cleanup.
func run(t *testing.T, d drain.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		d.Shutdown(sctx)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// rsyslog is a real rsyslogd writing what it receives to a file, one
// line per message: "<hostname> <app-name> <procid> <raw message>".
type rsyslog struct {
	t    *testing.T
	dir  string
	conf string
	Addr string
	Out  string
	cmd  *exec.Cmd
}

func needRsyslog(t *testing.T) string {
	path, err := exec.LookPath("rsyslogd")
	if err != nil {
		path = "/usr/sbin/rsyslogd"
		if _, serr := os.Stat(path); serr != nil {
			if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
				t.Fatalf("rsyslogd not found (apt-get install rsyslog rsyslog-gnutls) and DYNOKIT_TEST_REQUIRE=1")
			}
			t.Skip("rsyslogd not found: apt-get install rsyslog rsyslog-gnutls")
		}
	}
	return path
}

// startRsyslog starts rsyslogd on a free port: plain TCP when ca is nil,
// else TLS with the given netstream driver ("gtls" or "ossl").
func startRsyslog(t *testing.T, ca *testca.CA, driver string) *rsyslog {
	bin := needRsyslog(t)
	dir := t.TempDir()
	r := &rsyslog{t: t, dir: dir, Addr: freePort(t), Out: filepath.Join(dir, "received.log"), conf: filepath.Join(dir, "rsyslog.conf")}
	_, port, _ := net.SplitHostPort(r.Addr)
	work := filepath.Join(dir, "work")
	os.MkdirAll(work, 0o755)
	var conf strings.Builder
	fmt.Fprintf(&conf, "global(workDirectory=%q maxMessageSize=\"64k\" parser.escapeControlCharactersOnReceive=\"off\"", work)
	if ca != nil {
		fmt.Fprintf(&conf, " DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q", ca.CAFile, ca.ServerFile, ca.ServerKeyFile)
	}
	conf.WriteString(")\nmodule(load=\"imtcp\")\n")
	if ca != nil {
		fmt.Fprintf(&conf, "input(type=\"imtcp\" address=\"127.0.0.1\" port=%q ruleset=\"drain\" SupportOctetCountedFraming=\"on\" streamDriver.name=%q streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n", port, driver)
	} else {
		fmt.Fprintf(&conf, "input(type=\"imtcp\" address=\"127.0.0.1\" port=%q ruleset=\"drain\" SupportOctetCountedFraming=\"on\")\n", port)
	}
	conf.WriteString(`template(name="fields" type="string" string="%hostname% %app-name% %procid% %rawmsg%\n")` + "\n")
	fmt.Fprintf(&conf, "ruleset(name=\"drain\") { action(type=\"omfile\" file=%q template=\"fields\") }\n", r.Out)
	if err := os.WriteFile(r.conf, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r.start(bin)
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			if b, _ := os.ReadFile(filepath.Join(dir, "rsyslogd.stderr")); len(b) > 0 {
				t.Logf("rsyslogd output:\n%s", b)
			}
		}
	})
	return r
}

func (r *rsyslog) start(bin string) {
	r.t.Helper()
	r.cmd = exec.Command(bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	r.cmd.Dir = r.dir
	// rsyslogd's own messages (including the harmless complaint about the
	// readiness probe on TLS ports) are shown only if the test fails.
	logf, err := os.OpenFile(filepath.Join(r.dir, "rsyslogd.stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer logf.Close()
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.stop()
			r.t.Fatalf("rsyslogd did not listen on %s within 10s: %v", r.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rsyslog) restart() {
	os.Remove(filepath.Join(r.dir, "rsyslogd.pid"))
	r.start(r.cmd.Path)
}

// kill ends rsyslogd with SIGKILL: no goodbye on its connections beyond
// what the kernel sends.
func (r *rsyslog) kill() {
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

// stop ends rsyslogd with SIGTERM (it flushes its queue), or SIGKILL.
func (r *rsyslog) stop() {
	if r.cmd == nil || r.cmd.Process == nil || r.cmd.ProcessState != nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
}

// lines returns the received lines so far.
func (r *rsyslog) lines() []string {
	b, err := os.ReadFile(r.Out)
	if err != nil {
		return nil
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
