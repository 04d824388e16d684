package nomad_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testAgent is a Nomad dev agent (server and client in one process) on
// free loopback ports, shared by the package's tests: it starts in about
// two seconds, which is too slow to repeat for every conformance case.
type testAgent struct {
	addr string // http://127.0.0.1:port
	dir  string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

var (
	agentOnce sync.Once
	shared    *testAgent
	agentErr  error
	agentSkip string
)

// nomadBinary finds the Nomad binary scripts/install-nomad builds.
func nomadBinary() (string, error) {
	if p := os.Getenv("DYNOKIT_NOMAD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("DYNOKIT_NOMAD=%q: %w", p, err)
		}
		return p, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "dynokit", "nomad-1.10.5", "nomad-bin")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no Nomad binary at %s and DYNOKIT_NOMAD unset (run scripts/install-nomad): %w", p, errors.ErrUnsupported)
	}
	return p, nil
}

// agent returns the shared agent, starting it on first use. Without a
// binary the test is skipped, unless DYNOKIT_TEST_REQUIRE=1.
func agent(t testing.TB) *testAgent {
	t.Helper()
	agentOnce.Do(func() {
		bin, err := nomadBinary()
		if err != nil {
			if errors.Is(err, errors.ErrUnsupported) && os.Getenv("DYNOKIT_TEST_REQUIRE") != "1" {
				agentSkip = err.Error()
				return
			}
			agentErr = err
			return
		}
		shared, agentErr = startAgent(bin)
	})
	if agentSkip != "" {
		t.Skip(agentSkip)
	}
	if agentErr != nil {
		t.Fatalf("nomad agent: %v", agentErr)
	}
	return shared
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// agentConfig is the recipe of real-components.md §6: loopback only, raw_exec
// enabled, and the cloud fingerprinters off (AWS_CA_BUNDLE in the
// environment makes env_aws fail the whole fingerprint, and the others probe
// metadata addresses).
const agentConfig = `
data_dir  = %q
bind_addr = "127.0.0.1"
log_level = "INFO"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
client {
  enabled           = true
  network_interface = "lo"
  options {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean,consul,vault"
  }
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}
`

func startAgent(bin string) (*testAgent, error) {
	dir, err := os.MkdirTemp("", "dynokit-nomad-")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cfg := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, agentConfig, filepath.Join(dir, "data"), ports[0], ports[1], ports[2]), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	a := &testAgent{addr: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), dir: dir, log: new(bytes.Buffer), done: make(chan struct{})}
	a.cmd = exec.Command(bin, "agent", "-dev", "-config="+cfg)
	a.cmd.Dir = dir
	a.cmd.Stdout = &lockedWriter{w: a.log}
	a.cmd.Stderr = a.cmd.Stdout
	// Its own process group, so stop can kill the agent and the plugin
	// processes (executors, log collectors) it leaves behind.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.awaitReady(ctx); err != nil {
		a.stop()
		return nil, fmt.Errorf("agent not ready: %w\nagent log:\n%s", err, a.logString())
	}
	return a, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (a *testAgent) logString() string {
	lw := a.cmd.Stdout.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.String()
}

func (a *testAgent) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (a *testAgent) call(ctx context.Context, method, path string) error {
	req, err := http.NewRequestWithContext(ctx, method, a.addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return nil
}

// nodeAttr returns an attribute of the agent's client node ("" if unset).
func (a *testAgent) nodeAttr(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nodes []struct{ ID string }
	if err := a.get(ctx, "/v1/nodes", &nodes); err != nil || len(nodes) == 0 {
		t.Fatalf("nodes: %v (%d)", err, len(nodes))
	}
	var node struct{ Attributes map[string]string }
	if err := a.get(ctx, "/v1/node/"+nodes[0].ID, &node); err != nil {
		t.Fatal(err)
	}
	return node.Attributes[name]
}

// awaitReady waits for a leader and a ready client node with raw_exec.
func (a *testAgent) awaitReady(ctx context.Context) error {
	var last error
	for {
		select {
		case <-a.done:
			return fmt.Errorf("agent exited: %v", a.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
		var leader string
		if last = a.get(ctx, "/v1/status/leader", &leader); last != nil || leader == "" {
			continue
		}
		var nodes []struct {
			ID     string
			Status string
		}
		if last = a.get(ctx, "/v1/nodes", &nodes); last != nil {
			continue
		}
		for _, n := range nodes {
			if n.Status != "ready" {
				continue
			}
			var node struct {
				Drivers map[string]struct{ Detected, Healthy bool }
			}
			if last = a.get(ctx, "/v1/node/"+n.ID, &node); last != nil {
				continue
			}
			if d := node.Drivers["raw_exec"]; d.Detected && d.Healthy {
				return nil
			}
			last = errors.New("node ready but raw_exec not healthy")
		}
	}
}

// stop purges every job (their tasks get SIGTERM, then SIGKILL after the
// job's kill_timeout), waits for the allocations to end, then stops the
// agent and kills its process group.
func (a *testAgent) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case <-a.done:
	default:
		var jobs []struct{ ID string }
		if err := a.get(ctx, "/v1/jobs", &jobs); err == nil {
			for _, j := range jobs {
				_ = a.call(ctx, http.MethodDelete, "/v1/job/"+j.ID+"?purge=true")
			}
		}
		for ctx.Err() == nil {
			var allocs []struct{ ClientStatus string }
			if err := a.get(ctx, "/v1/allocations", &allocs); err != nil {
				break
			}
			running := 0
			for _, al := range allocs {
				if al.ClientStatus == "running" || al.ClientStatus == "pending" {
					running++
				}
			}
			if running == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(a.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-a.done:
		case <-time.After(15 * time.Second):
		}
	}
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	<-a.done
	unmountUnder(a.dir)
	if err := os.RemoveAll(a.dir); err != nil {
		fmt.Fprintf(os.Stderr, "nomad test agent: remove %s: %v\n", a.dir, err)
	}
}

// unmountUnder detaches what the Nomad client mounted in its data dir
// (each task's secrets and private tmpfs) and did not unmount because the
// agent stopped before it collected the allocation.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var points []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			points = append(points, f[1])
		}
	}
	for i := len(points) - 1; i >= 0; i-- { // innermost first
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}
