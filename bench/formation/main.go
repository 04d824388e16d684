// Command formation-bench measures formation/local: start-to-listening
// latency beside its floor (a bare fork/exec of the same server), and how
// long one app takes to scale 0 → N web dynos and back.
//
//	go run ./bench/formation [-n 20] [-scale 50]
//
// run.sh builds and runs it. The web process is this binary with -serve.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/local"
)

func main() {
	serve := flag.Bool("serve", false, "be the web process: serve HTTP on $PORT until SIGTERM")
	n := flag.Int("n", 20, "latency samples per variant")
	scale := flag.Int("scale", 50, "web dynos for the scaling run")
	flag.Parse()
	if *serve {
		_ = http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		os.Exit(1)
	}
	if err := bench(*n, *scale); err != nil {
		fmt.Fprintln(os.Stderr, "formation-bench:", err)
		os.Exit(1)
	}
}

func bench(n, scale int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "formation-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	slug := filepath.Join(root, "slug")
	if err := os.Mkdir(slug, 0o755); err != nil {
		return err
	}
	command := "exec " + self + " -serve"

	bare := func(port int) (time.Duration, func(), error) {
		begin := time.Now()
		cmd := exec.Command("bash", "-c", command)
		cmd.Env = []string{"PATH=" + local.DefaultPath, "PORT=" + strconv.Itoa(port)}
		cmd.Dir = slug
		if err := cmd.Start(); err != nil {
			return 0, nil, err
		}
		if err := waitListening(port, 10*time.Second); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, nil, err
		}
		took := time.Since(begin)
		return took, func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }, nil
	}
	viaLocal := func(res formation.Resources) func(int) (time.Duration, func(), error) {
		rt := &local.Runtime{BaseDir: filepath.Join(root, "dynos")}
		i := 0
		return func(port int) (time.Duration, func(), error) {
			i++
			begin := time.Now()
			d, err := rt.Start(context.Background(), formation.DynoSpec{
				ID: "bench." + strconv.Itoa(i), Command: command, SlugDir: slug, Port: port,
				Env: []string{"PORT=" + strconv.Itoa(port), "DYNO=web.1"}, Resources: res,
			}, formation.Stdio{})
			if err != nil {
				return 0, nil, err
			}
			if err := waitListening(port, 10*time.Second); err != nil {
				_, _ = formation.Stop(context.Background(), d, time.Second)
				return 0, nil, err
			}
			took := time.Since(begin)
			return took, func() { _, _ = formation.Stop(context.Background(), d, 5*time.Second) }, nil
		}
	}
	variants := []struct {
		name  string
		start func(int) (time.Duration, func(), error)
	}{
		{"floor: bash -c fork/exec", bare},
		{"local (copy + profile.d bootstrap)", viaLocal(formation.Resources{})},
		{"local + cgroup limits", viaLocal(formation.Resources{MemoryBytes: 256 << 20, PIDs: 256})},
	}
	if ok, why := (&local.Runtime{}).MemoryLimits(); !ok {
		fmt.Printf("(cgroup variant skipped: %v)\n", why)
		variants = variants[:2]
	}
	samples := make([][]time.Duration, len(variants))
	for i := range n + 1 { // interleaved, so load changes hit every variant alike; round 0 warms up
		for vi, v := range variants {
			port, err := freePort()
			if err != nil {
				return err
			}
			took, stop, err := v.start(port)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			stop()
			if i > 0 {
				samples[vi] = append(samples[vi], took)
			}
		}
	}
	fmt.Printf("start-to-listening, median of %d (min–max):\n", n)
	floor := median(samples[0])
	for vi, v := range variants {
		m := median(samples[vi])
		fmt.Printf("  %-36s %8.2f ms  (%.2f–%.2f)  ×%.2f of floor\n", v.name, ms(m), ms(slices.Min(samples[vi])), ms(slices.Max(samples[vi])), float64(m)/float64(floor))
	}

	up, down, err := scaleRun(slug, command, scale)
	if err != nil {
		return err
	}
	fmt.Printf("scale one app 0 → %d web dynos (all up, port bound): %.2f s\n", scale, up.Seconds())
	fmt.Printf("scale %d → 0 (all down, SIGTERM):                   %.2f s\n", scale, down.Seconds())
	return nil
}

func scaleRun(slug, command string, scale int) (up, down time.Duration, err error) {
	// Hold every listener until all are chosen, so the ports are distinct.
	ports := make([]int, scale+1)
	var held []net.Listener
	for i := 1; i <= scale; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		held = append(held, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range held {
		l.Close()
	}
	root, err := os.MkdirTemp("", "formation-scale")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(root)
	var mu sync.Mutex
	upCount, downCount, crashes := 0, 0, 0
	changed := make(chan struct{}, 1)
	rec := &formation.Reconciler{
		Runtime: &local.Runtime{BaseDir: root},
		Spec: func(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
			p := ports[req.Index]
			return formation.DynoSpec{Command: command, SlugDir: slug, Port: p,
				Env: []string{"PORT=" + strconv.Itoa(p), "DYNO=" + req.Name}}, nil
		},
		OnEvent: func(e formation.Event) {
			if e.Kind != formation.EventState {
				return
			}
			mu.Lock()
			switch e.State {
			case formation.StateUp:
				upCount++
			case formation.StateDown:
				downCount++
			case formation.StateCrashed:
				crashes++
			}
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
		},
		Grace: 10 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitCount := func(c *int, want int) error {
		deadline := time.After(5 * time.Minute)
		for {
			mu.Lock()
			got := *c
			mu.Unlock()
			if got >= want {
				return nil
			}
			select {
			case <-changed:
			case <-deadline:
				return fmt.Errorf("timed out at %d of %d", got, want)
			}
		}
	}
	begin := time.Now()
	if err := rec.Set(formation.Formation{App: "bench", Release: 1, Processes: map[string]formation.Process{"web": {Quantity: scale}}}); err != nil {
		return 0, 0, err
	}
	if err := waitCount(&upCount, scale); err != nil {
		return 0, 0, fmt.Errorf("scale up: %w", err)
	}
	up = time.Since(begin)
	begin = time.Now()
	if err := rec.Set(formation.Formation{App: "bench", Release: 1, Processes: map[string]formation.Process{"web": {Quantity: 0}}}); err != nil {
		return 0, 0, err
	}
	if err := waitCount(&downCount, scale); err != nil {
		return 0, 0, fmt.Errorf("scale down: %w", err)
	}
	down = time.Since(begin)
	mu.Lock()
	defer mu.Unlock()
	if crashes > 0 {
		return up, down, fmt.Errorf("%d dynos crashed during the scaling run", crashes)
	}
	return up, down, nil
}

func waitListening(port int, within time.Duration) error {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listening on %s after %v", addr, within)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
