package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// execAddr is a free port 80 on a random loopback address (the heroku CLI
// connects to port 80 of tunnel_host), or skips the test where port 80
// cannot be bound.
func execAddr(t *testing.T) string {
	t.Helper()
	for range 10 {
		a, _ := rand.Int(rand.Reader, big.NewInt(250*250))
		n := int(a.Int64())
		addr := fmt.Sprintf("127.77.%d.%d:80", n/250+1, n%250+1)
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return addr
		}
		if os.Geteuid() != 0 {
			if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
				t.Fatalf("Heroku Exec's SSH port 80: %v (run the tests as root)", err)
			}
			t.Skipf("cannot listen on port 80 for Heroku Exec's SSH server: %v", err)
		}
	}
	t.Fatal("no free port 80 on 127.77.x.y")
	return ""
}

// execGrantJSON is the exec manager's answer to PUT /api/v2/<dyno>.
type execGrantJSON struct {
	TunnelHost     string `json:"tunnel_host"`
	ClientUser     string `json:"client_user"`
	ProxyPublicKey string `json:"proxy_public_key"`
	DynoIP         string `json:"dyno_ip"`
}

// execGrant asks the exec manager for a grant for key, as the CLI does.
func (m *minipaas) execGrant(app, dyno string, key ssh.PublicKey) (int, execGrantJSON, string) {
	m.t.Helper()
	body := `{"client_key":"` + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + `"}`
	req, err := http.NewRequest("PUT", m.apiURL+execAPIPath+"/"+dyno, strings.NewReader(body))
	if err != nil {
		m.t.Fatal(err)
	}
	req.SetBasicAuth(app, m.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var g execGrantJSON
	_ = json.Unmarshal(b, &g)
	return resp.StatusCode, g, string(b)
}

// TestHerokuExec drives Heroku Exec from a Go SSH client: the grant, host
// key pinning, commands with their exit status, stdout and stderr, the
// dyno's environment, forwarding to the dyno's port only, and the
// refusals (feature off, a dyno that is not running, a wrong key).
func TestHerokuExec(t *testing.T) {
	addr := execAddr(t)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	m := startMinipaasWith(t, filepath.Join(t.TempDir(), "data"), token, "-exec-addr", addr)
	const app = "execdemo"
	m.createApp(app)
	m.pushHello(newGitClient(t), app)
	m.waitDynos(app, "web.1")

	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := m.execGrant(app, "web.1", signer.PublicKey()); st != http.StatusUnprocessableEntity || !strings.Contains(body, "features:enable runtime-heroku-exec") {
		t.Errorf("grant with the feature off: %d %s", st, body)
	}
	if st := m.api("PATCH", "/apps/"+app+"/features/runtime-heroku-exec", `{"enabled":true}`, nil); st != http.StatusOK {
		t.Fatalf("enable runtime-heroku-exec: %d", st)
	}
	if st, _, body := m.execGrant(app, "web.7", signer.PublicKey()); st != http.StatusNotFound {
		t.Errorf("grant for a dyno that does not run: %d %s", st, body)
	}
	req, _ := http.NewRequest("PUT", m.apiURL+execAPIPath+"/web.1", strings.NewReader(`{}`))
	req.SetBasicAuth(app, "wrong-token")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("grant with a wrong token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	st, g, body := m.execGrant(app, "web.1", signer.PublicKey())
	if st != http.StatusOK || g.ClientUser == "" || g.TunnelHost != hostOf(addr) {
		t.Fatalf("grant: %d %s", st, body)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(g.ProxyPublicKey))
	if err != nil {
		t.Fatalf("proxy_public_key %q: %v", g.ProxyPublicKey, err)
	}
	cfg := &ssh.ClientConfig{User: g.ClientUser, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey), Timeout: 10 * time.Second}
	client, err := ssh.Dial("tcp", net.JoinHostPort(g.TunnelHost, "80"), cfg)
	if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	defer client.Close()

	run := func(cmd string) (stdout, stderr string, err error) {
		t.Helper()
		s, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var o, e strings.Builder
		s.Stdout, s.Stderr = &o, &e
		err = s.Run(cmd)
		return o.String(), e.String(), err
	}
	out, errOut, err := run(`echo "in $DYNO on $PORT at $(pwd)"; ls; echo to-stderr >&2; exit 3`)
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
		t.Errorf("exit status: %v, want 3", err)
	}
	dynoPort := ""
	for _, d := range mustDynos(t, m, app) {
		if d.Name == "web.1" {
			dynoPort = portOf(d.Addr)
		}
	}
	if !regexp.MustCompile(`in web\.1 on `+dynoPort+` at /.*\n(.*\n)*main\.go\n`).MatchString(out) || errOut != "to-stderr\n" {
		t.Errorf("exec: stdout %q (want the dyno's DYNO, PORT and app directory), stderr %q", out, errOut)
	}

	// Forwarding reaches the dyno's own port, and nothing else.
	conn, err := client.Dial("tcp", net.JoinHostPort(g.DynoIP, dynoPort))
	if err != nil {
		t.Fatalf("forward to the dyno's port: %v", err)
	}
	fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
	resp, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.Contains(string(resp), "from web.1") {
		t.Errorf("forwarded request: %q", resp)
	}
	if c, err := client.Dial("tcp", "0.0.0.0:"+dynoPort); err != nil { // ps:forward's form
		t.Errorf("forward to 0.0.0.0:%s: %v", dynoPort, err)
	} else {
		c.Close()
	}
	apiPort := portOf(m.apiAddr)
	for _, target := range []string{net.JoinHostPort(g.DynoIP, apiPort), "10.1.2.3:" + dynoPort} {
		if c, err := client.Dial("tcp", target); err == nil {
			c.Close()
			t.Errorf("forward to %s, which no process of the dyno listens on, was allowed", target)
		}
	}

	// Another key, or the right key under another grant's user, is refused.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	bad := *cfg
	bad.Auth = []ssh.AuthMethod{ssh.PublicKeys(otherSigner)}
	if c, err := ssh.Dial("tcp", net.JoinHostPort(g.TunnelHost, "80"), &bad); err == nil {
		c.Close()
		t.Error("a key without a grant got in")
	}

	// Turning the feature off ends new sessions' commands.
	if st := m.api("PATCH", "/apps/"+app+"/features/runtime-heroku-exec", `{"enabled":false}`, nil); st != http.StatusOK {
		t.Fatalf("disable runtime-heroku-exec: %d", st)
	}
	if _, errOut, err := run("echo should-not-run"); err == nil || !strings.Contains(errOut, "Heroku Exec is off") {
		t.Errorf("exec with the feature off: %v, stderr %q", err, errOut)
	}
}

// TestHerokuExecCLI runs heroku ps:exec (a command and a shell on a
// terminal), ps:exec --status and ps:forward with the real CLI.
func TestHerokuExecCLI(t *testing.T) {
	addr := execAddr(t)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	m := startMinipaasWith(t, filepath.Join(t.TempDir(), "data"), token, "-exec-addr", addr)
	cli := herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "NODE_EXTRA_CA_CERTS="+filepath.Join(m.dataDir, "rendezvous-ca.pem"), "HEROKU_EXEC_URL=https://"+m.apiAddr+"/")
	heroku := herokuFunc(t, cli)
	const app = "execcli"
	m.createApp(app)
	m.pushHello(newGitClient(t), app)
	m.waitDynos(app, "web.1")
	heroku("features:enable", "runtime-heroku-exec", "-a", app)

	expectIn(t, heroku("ps:exec", "-a", app, "echo", "exec-in-$DYNO"), "exec-in-web.1")
	expectIn(t, heroku("ps:exec", "--status", "-a", app), "web.1", "up", "running")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	term, err := cli.StartOnTerminal(ctx, 100, 30, "ps:exec", "-a", app)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Stop()
	step := func(keys, want string) { t.Helper(); typeAndWait(t, term, "heroku ps:exec on a terminal", keys, want) }
	step("", "Connecting to web.1")
	step("stty size; echo shell-''in-$DYNO\r", "shell-in-web.1")
	step("", "24 80") // the CLI asks for ssh2's default terminal, whatever its own size
	if err := term.Type("exit\r"); err != nil {
		t.Fatal(err)
	}
	if out, _ := term.WaitOutput(60*time.Second, func(string) bool { return false }); !term.Exited() {
		t.Errorf("heroku ps:exec did not end after exit:\n%s", out)
	}

	// ps:forward: a local port reaches the dyno's.
	dynoPort := ""
	for _, d := range mustDynos(t, m, app) {
		if d.Name == "web.1" {
			dynoPort = portOf(d.Addr)
		}
	}
	local := listenLoopback(t)
	localPort := portOf(local.Addr().String())
	local.Close()
	fwd, err := cli.Start(ctx, "ps:forward", localPort+":"+dynoPort, "-a", app)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Stop()
	if out, ok := fwd.WaitOutput(60*time.Second, func(s string) bool { return strings.Contains(s, "to stop port forwarding") }); !ok {
		t.Fatalf("ps:forward: %s", out)
	}
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://127.0.0.1:" + localPort + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); strings.Contains(body, "from web.1") {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(body, "from web.1") {
		t.Errorf("through ps:forward: %q\n%s", body, fwd.Output())
	}
}

// mustDynos lists the app's dynos.
func mustDynos(t *testing.T, m *minipaas, app string) []platform.Dyno {
	t.Helper()
	dynos, err := m.p.Dynos(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	return dynos
}

// typeAndWait types keys (if any) on a CLI running on a terminal, then
// waits up to a minute for want in its output.
func typeAndWait(t *testing.T, term *herokucli.Running, what, keys, want string) {
	t.Helper()
	if keys != "" {
		if err := term.Type(keys); err != nil {
			t.Fatalf("typing %q: %v", keys, err)
		}
	}
	if out, ok := term.WaitOutput(60*time.Second, func(s string) bool { return strings.Contains(s, want) }); !ok {
		t.Fatalf("%s: after typing %q, no %q in:\n%s", what, keys, want, out)
	}
}
