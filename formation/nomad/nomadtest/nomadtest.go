package nomadtest

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/formationtest"
)

// Version is the Nomad release scripts/install-nomad builds.
const Version = "1.10.5"

// Binary returns the Nomad binary to test with: $DYNOKIT_NOMAD, else the
// one scripts/install-nomad caches in ~/.cache/dynokit. When there is none
// the error wraps errors.ErrUnsupported (callers skip on it).
func Binary() (string, error) {
	if p := os.Getenv("DYNOKIT_NOMAD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("nomadtest: DYNOKIT_NOMAD=%q: %w", p, err)
		}
		return p, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("nomadtest: %w", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "dynokit", "nomad-"+Version, "nomad-bin")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("nomadtest: no Nomad binary at %s and DYNOKIT_NOMAD unset (run scripts/install-nomad): %w", p, errors.ErrUnsupported)
	}
	return p, nil
}

// Agent is a running Nomad dev agent.
type Agent struct {
	// Addr is the HTTP API, "http://127.0.0.1:port".
	Addr string

	dir  string
	cmd  *exec.Cmd
	log  *formationtest.Buffer
	done chan struct{}
}

// config is the recipe of real-components.md §6: loopback only, raw_exec
// enabled, and the cloud fingerprinters off (AWS_CA_BUNDLE in the
// environment makes env_aws fail the whole fingerprint, and the others probe
// metadata addresses).
const config = `
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

// Start runs bin as a dev agent (server and client in one process) on free
// loopback ports and returns once it has a leader and a ready client node
// with a healthy raw_exec driver. ctx bounds the start only.
func Start(ctx context.Context, bin string) (*Agent, error) {
	dir, err := os.MkdirTemp("", "dynokit-nomad-")
	if err != nil {
		return nil, fmt.Errorf("nomadtest: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nomadtest: %w", err)
	}
	cfg := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, filepath.Join(dir, "data"), ports[0], ports[1], ports[2]), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nomadtest: %w", err)
	}
	a := &Agent{Addr: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), dir: dir, log: new(formationtest.Buffer), done: make(chan struct{})}
	a.cmd = exec.Command(bin, "agent", "-dev", "-config="+cfg)
	a.cmd.Dir = dir
	a.cmd.Stdout = a.log
	a.cmd.Stderr = a.log
	// Its own process group, so Stop can kill the agent and the plugin
	// processes (executors, log collectors) it leaves behind.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nomadtest: start %s: %w", bin, err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	if err := a.awaitReady(ctx); err != nil {
		a.Stop()
		return nil, fmt.Errorf("nomadtest: agent not ready: %w\nagent log:\n%s", err, a.Log())
	}
	return a, nil
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

// Log returns what the agent has printed so far.
func (a *Agent) Log() string {
	return a.log.String()
}

// Get decodes the JSON answer of GET path (for example "/v1/nodes").
func (a *Agent) Get(ctx context.Context, path string, out any) error {
	resp, err := a.send(ctx, http.MethodGet, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Call sends a request without a body (DELETE, POST) and checks for 2xx.
func (a *Agent) Call(ctx context.Context, method, path string) error {
	resp, err := a.send(ctx, method, path)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (a *Agent) send(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.Addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return resp, nil
}

// NodeAttr returns an attribute of the agent's client node ("" if unset).
func (a *Agent) NodeAttr(ctx context.Context, name string) (string, error) {
	var nodes []struct{ ID string }
	if err := a.Get(ctx, "/v1/nodes", &nodes); err != nil {
		return "", err
	}
	if len(nodes) == 0 {
		return "", errors.New("nomadtest: no client node")
	}
	var node struct{ Attributes map[string]string }
	if err := a.Get(ctx, "/v1/node/"+nodes[0].ID, &node); err != nil {
		return "", err
	}
	return node.Attributes[name], nil
}

// awaitReady waits for a leader and a ready client node with raw_exec.
func (a *Agent) awaitReady(ctx context.Context) error {
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
		if last = a.Get(ctx, "/v1/status/leader", &leader); last != nil || leader == "" {
			continue
		}
		var nodes []struct {
			ID     string
			Status string
		}
		if last = a.Get(ctx, "/v1/nodes", &nodes); last != nil {
			continue
		}
		for _, n := range nodes {
			if n.Status != "ready" {
				continue
			}
			var node struct {
				Drivers map[string]struct{ Detected, Healthy bool }
			}
			if last = a.Get(ctx, "/v1/node/"+n.ID, &node); last != nil {
				continue
			}
			if d := node.Drivers["raw_exec"]; d.Detected && d.Healthy {
				return nil
			}
			last = errors.New("node ready but raw_exec not healthy")
		}
	}
}

// Stop purges every job (their tasks get SIGTERM, then SIGKILL after the
// job's kill_timeout), waits for the client to have stopped them, then
// stops the agent, kills its process group and whatever it left running,
// and removes its directory.
func (a *Agent) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case <-a.done:
	default:
		var jobs []struct{ ID string }
		if err := a.Get(ctx, "/v1/jobs", &jobs); err == nil {
			for _, j := range jobs {
				_ = a.Call(ctx, http.MethodDelete, "/v1/job/"+j.ID+"?purge=true")
			}
		}
		// A purged job's allocations leave the API before the client has
		// stopped their tasks; the client's executors (one per running
		// task, each in a session of its own, so not in the agent's process
		// group) exit when it has. Stopping the agent earlier would orphan
		// them.
		for ctx.Err() == nil && len(a.leftovers()) > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		_ = syscall.Kill(a.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-a.done:
		case <-time.After(15 * time.Second):
		}
	}
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	<-a.done
	for _, pid := range a.leftovers() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	unmountUnder(a.dir)
	if err := os.RemoveAll(a.dir); err != nil {
		fmt.Fprintf(os.Stderr, "nomadtest: remove %s: %v\n", a.dir, err)
	}
}

// leftovers returns the processes other than the agent that belong to it:
// those whose command line or working directory is in its directory
// (executors name their log file there; raw_exec tasks run in their task
// directory).
func (a *Agent) leftovers() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == a.cmd.Process.Pid || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if bytes.Contains(cmdline, []byte(a.dir+"/")) || strings.HasPrefix(cwd, a.dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
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

// Shared is one agent for a whole test binary, started on first use: an
// agent takes a few seconds to start, too slow to repeat per test. Declare
// one in the test package and call Stop from TestMain after m.Run.
type Shared struct {
	mu    sync.Mutex
	agent *Agent
}

// Get returns the shared agent, starting it on first use (and again after
// Stop, as when a test runs with -count=2). Without a Nomad binary the
// test is skipped, unless DYNOKIT_TEST_REQUIRE=1 (then it fails).
func (s *Shared) Get(t testing.TB) *Agent {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agent != nil {
		return s.agent
	}
	bin, err := Binary()
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) && os.Getenv("DYNOKIT_TEST_REQUIRE") != "1" {
			t.Skip(err.Error())
		}
		t.Fatalf("nomad agent: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := Start(ctx, bin)
	if err != nil {
		t.Fatalf("nomad agent: %v", err)
	}
	s.agent = a
	return a
}

// Stop stops the agent if one was started; a later Get starts another.
func (s *Shared) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agent != nil {
		s.agent.Stop()
		s.agent = nil
	}
}
