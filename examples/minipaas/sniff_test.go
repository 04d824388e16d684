package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
)

// TestGitRemoteOverHTTPS deploys as the heroku CLI sets a user up: the
// remote `heroku apps:create` adds is https://<API host>/<app>.git, served
// by the API port beside plain HTTP, with git trusting minipaas's CA and
// reading the token from ~/.netrc; `heroku git:clone` reads it back.
func TestGitRemoteOverHTTPS(t *testing.T) {
	m := startMinipaas(t)
	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)
	home := cli.Home // the CLI's HOME and working directory
	g := &gitClient{t: t, home: home}

	caFile := filepath.Join(m.dataDir, "rendezvous-ca.pem")
	gitconfig := fmt.Sprintf("[http \"https://%s/\"]\n\tsslCAInfo = %s\n[user]\n\tname = Test\n\temail = test@example.com\n", m.apiAddr, caFile)
	for _, name := range []string{".gitconfig", "gitconfig"} { // the CLI's git reads the first, g's the second
		if err := os.WriteFile(filepath.Join(home, name), []byte(gitconfig), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	netrc := fmt.Sprintf("machine %s login heroku password %s\n", hostOf(m.apiAddr), m.token)
	if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte(netrc), 0o600); err != nil {
		t.Fatal(err)
	}
	hello := filepath.Join("internal", "platform", "testdata", "hello")
	if err := os.CopyFS(home, os.DirFS(hello)); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(hello)
	if err != nil {
		t.Fatal(err)
	}
	g.run(home, "init", "-q", "-b", "main")
	for _, e := range ents {
		g.run(home, "add", e.Name())
	}
	g.run(home, "commit", "-q", "-m", "hello")

	heroku("apps:create", "tlsgit")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url, err := g.cmd(ctx, home, "remote", "get-url", "heroku").Output()
	if want := "https://" + m.apiAddr + "/tlsgit.git"; err != nil || strings.TrimSpace(string(url)) != want {
		t.Fatalf("the CLI's git remote: %q %v, want %s", url, err, want)
	}
	push := g.cmd(ctx, home, "push", "heroku", "main")
	// GIT_SSL_CAINFO, which some machines set, would win over the config.
	push.Env = slices.DeleteFunc(push.Env, func(kv string) bool { return strings.HasPrefix(kv, "GIT_SSL_CAINFO=") })
	out, err := push.CombinedOutput()
	if err != nil {
		t.Fatalf("git push heroku main over HTTPS: %v\n%s", err, out)
	}
	expectIn(t, string(out), "Released v1")
	m.waitFor("tlsgit", "the app pushed over HTTPS", func(status int, body string) bool {
		return status == http.StatusOK && strings.Contains(body, "from web.1")
	})

	clone := filepath.Join(t.TempDir(), "clone")
	heroku("git:clone", "-a", "tlsgit", clone)
	if _, err := os.Stat(filepath.Join(clone, ents[0].Name())); err != nil {
		t.Errorf("heroku git:clone over HTTPS: %v", err)
	}
}

// TestSniffListener serves plain HTTP and HTTPS on one port; a client that
// sends nothing holds up neither, and closing the listener ends Serve.
func TestSniffListener(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	config, err := rendezvousTLS(caFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := newSniffListener(ln, config)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v", r.TLS != nil)
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sl) }()

	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for scheme, want := range map[string]string{"http": "tls=false", "https": "tls=true"} {
		resp, err := client.Get(scheme + "://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("%s: %q, want %q", scheme, body, want)
		}
	}
	srv.Close()
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}
