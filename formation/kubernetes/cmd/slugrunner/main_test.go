package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/slug"
	"github.com/dynokit/dynokit/slug/slugtest"
)

// runnerBin is the slugrunner binary built once for the tests.
var runnerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slugrunner-test-")
	if err != nil {
		panic(err)
	}
	runnerBin = filepath.Join(dir, "slugrunner")
	out, err := exec.Command("go", "build", "-o", runnerBin, ".").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("building slugrunner: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serveSlug packs files (path → content; mode 0644) as a slug, serves it
// with slug.Handler on loopback and returns its URL and digest.
func serveSlug(t *testing.T, files map[string]string) (string, slug.Digest) {
	t.Helper()
	build := t.TempDir()
	for name, content := range files {
		p := filepath.Join(build, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	info, err := slug.Pack(context.Background(), &buf, build, slug.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store := &slug.MemStore{}
	if _, err := store.Put(context.Background(), &buf, info.Digest); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&slug.Handler{Store: store})
	t.Cleanup(srv.Close)
	return srv.URL + "/" + info.Digest.Hex(), info.Digest
}

type result struct {
	code   int
	stderr string
}

// start runs the slugrunner binary with env added to a minimal environment.
func start(t *testing.T, appDir, command string, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(runnerBin, "-app-dir", appDir, "--", command)
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, env...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &stderr
}

func wait(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return result{code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("slugrunner did not exit within 60s; output:\n%s", stderr)
		return result{}
	}
}

func runRunner(t *testing.T, appDir, command string, env ...string) result {
	t.Helper()
	cmd, stderr := start(t, appDir, command, env...)
	return wait(t, cmd, stderr)
}

func TestRunsCommandWithEnvAndProfile(t *testing.T) {
	url, digest := serveSlug(t, map[string]string{
		"hello.txt":          "hello from the slug\n",
		".profile.d/ruby.sh": "export FROM_PROFILE_D=yes\nexport PATH=\"$HOME/bin:$PATH\"\n",
		".profile":           "export FROM_PROFILE=\"$FROM_PROFILE_D-too\"\n",
	})
	out := filepath.Join(t.TempDir(), "out")
	appDir := filepath.Join(t.TempDir(), "app")
	command := `printf '%s|%s|%s|%s|%s|%s\n' "$FOO" "$FROM_PROFILE_D" "$FROM_PROFILE" "$HOME" "$PWD" "$DYNO" > "$OUT"; cat hello.txt >> "$OUT"; case "$PATH" in "$HOME/bin:"*) echo path-ok >> "$OUT";; esac`
	r := runRunner(t, appDir, command,
		"SLUG_URL="+url, "SLUG_DIGEST="+string(digest), "FOO=bar baz", "OUT="+out, "HOME=/nonexistent",
		"DYNOKIT_PROCESS_TYPE=web", "DYNOKIT_POD_NAME=shop-web-7d9b8f6c5-xk2jq")
	if r.code != 0 {
		t.Fatalf("exit %d, output:\n%s", r.code, r.stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the command did not run: %v; output:\n%s", err, r.stderr)
	}
	want := "bar baz|yes|yes-too|" + appDir + "|" + appDir + "|web.xk2jq\nhello from the slug\npath-ok\n"
	if string(got) != want {
		t.Errorf("command wrote\n%q\nwant\n%q", got, want)
	}
}

func TestExitStatus(t *testing.T) {
	url, digest := serveSlug(t, map[string]string{"x": "x"})
	r := runRunner(t, filepath.Join(t.TempDir(), "app"), "exit 7", "SLUG_URL="+url, "SLUG_DIGEST="+string(digest), "DYNO=worker.1")
	if r.code != 7 {
		t.Errorf("exit %d, want 7; output:\n%s", r.code, r.stderr)
	}
	r = runRunner(t, filepath.Join(t.TempDir(), "app"), "kill -KILL $$", "SLUG_URL="+url, "SLUG_DIGEST="+string(digest))
	if r.code != 128+9 {
		t.Errorf("killed command: exit %d, want %d; output:\n%s", r.code, 128+9, r.stderr)
	}
}

func TestBadDigestRefused(t *testing.T) {
	url, _ := serveSlug(t, map[string]string{"x": "x"})
	out := filepath.Join(t.TempDir(), "out")
	other := slug.DigestOf([]byte("some other slug"))
	r := runRunner(t, filepath.Join(t.TempDir(), "app"), `echo ran > "$OUT"`, "SLUG_URL="+url, "SLUG_DIGEST="+string(other), "OUT="+out)
	if r.code != 1 {
		t.Errorf("exit %d, want 1; output:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "Checksum does not match") {
		t.Errorf("output does not report the checksum mismatch:\n%s", r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the command ran despite the digest mismatch")
	}
}

func TestBadInput(t *testing.T) {
	app := filepath.Join(t.TempDir(), "app")
	for _, tc := range []struct {
		name string
		env  []string
		want string
		code int
	}{
		{"no url", nil, "SLUG_URL is not set", 1},
		{"bad digest syntax", []string{"SLUG_URL=http://127.0.0.1:1/x", "SLUG_DIGEST=md5:00"}, "SLUG_DIGEST", 1},
		{"not found", []string{"SLUG_URL=" + mustMissingURL(t), "SLUG_DIGEST=" + string(slug.DigestOf(nil))}, "404", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runRunner(t, app, "true", tc.env...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, output %q; want exit %d mentioning %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
	cmd := exec.Command(runnerBin)
	if out, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "usage") {
		t.Errorf("no command: %v, %q; want exit 2 and usage", err, out)
	}
}

func mustMissingURL(t *testing.T) string {
	url, _ := serveSlug(t, map[string]string{"x": "x"})
	return url[:strings.LastIndexByte(url, '/')] + "/" + slug.DigestOf(nil).Hex()
}

// TestSignalsReachTheGroup checks that SIGTERM to the runner (what the
// kubelet sends PID 1) reaches the command and a background child of it.
func TestSignalsReachTheGroup(t *testing.T) {
	url, digest := serveSlug(t, map[string]string{"x": "x"})
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	ready := filepath.Join(dir, "ready")
	command := `( trap 'echo child >> "$OUT"; exit 0' TERM; while :; do sleep 0.05; done ) &
trap 'wait; echo parent >> "$OUT"; exit 3' TERM
touch "$READY"
wait`
	cmd, stderr := start(t, filepath.Join(dir, "app"), command, "SLUG_URL="+url, "SLUG_DIGEST="+string(digest), "OUT="+out, "READY="+ready)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("command not ready after 60s; output:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := wait(t, cmd, stderr)
	if r.code != 3 {
		t.Errorf("exit %d, want 3 (the command's trap); output:\n%s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "child\nparent\n" {
		t.Errorf("trap output %q, want both the background child and the command to get SIGTERM", got)
	}
}

// TestHostileSlugRefused: a slug whose digest is right but whose entries
// escape /app (or are devices) is refused at once, without retries.
func TestHostileSlugRefused(t *testing.T) {
	for _, h := range slugtest.HostileCorpus() {
		switch h.Name {
		case "dotdot-name", "symlink-then-write", "hardlink-absolute", "char-device":
		default:
			continue
		}
		t.Run(h.Name, func(t *testing.T) {
			store := &slug.MemStore{}
			info, err := store.Put(context.Background(), bytes.NewReader(h.Data), "")
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(&slug.Handler{Store: store})
			defer srv.Close()
			out := filepath.Join(t.TempDir(), "out")
			start := time.Now()
			r := runRunner(t, filepath.Join(t.TempDir(), "app"), `echo ran > "$OUT"`,
				"SLUG_URL="+srv.URL+"/"+info.Digest.Hex(), "SLUG_DIGEST="+string(info.Digest), "OUT="+out)
			if r.code != 1 || strings.Contains(r.stderr, "retrying") {
				t.Errorf("exit %d, output:\n%s\nwant exit 1 without retries", r.code, r.stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("the command ran")
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
