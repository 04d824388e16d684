// Command deploybench measures minipaas's deploy latency: git push of a
// trivial Go web app → its first 200 through the router, cold (a fresh
// platform with an empty build cache) and warm (a second push of a
// one-line change), split by phase, beside the floor measured in the same
// run: a plain git push of the same commits to a bare repository served by
// git http-backend over smart HTTP, as minipaas serves its repositories.
//
//	go build -o /tmp/minipaas ./examples/minipaas
//	go run ./bench/deploy -minipaas /tmp/minipaas -reps 5
//
// run.sh does both. Phases come from the platform's own timings (its -v
// "platform: deployed" line, fed by platform.Config.OnDeployed's figures):
// build, pack, release; receive is the rest of the push (git's transfer,
// the checkout of the pushed commit); boot is push end → first 200.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("minipaas", "", "a built minipaas binary (go build ./examples/minipaas)")
	reps := flag.Int("reps", 5, "repetitions; medians are reported")
	work := flag.String("work", "", "scratch directory (default: a new temporary directory, removed at the end)")
	flag.Parse()
	if *bin == "" || *reps < 1 {
		fmt.Fprintln(os.Stderr, "usage: deploybench -minipaas PATH [-reps N] [-work DIR]")
		os.Exit(2)
	}
	if err := run(*bin, *reps, *work); err != nil {
		fmt.Fprintln(os.Stderr, "deploybench:", err)
		os.Exit(1)
	}
}

// sample is one deploy: the whole latency and its phases.
type sample struct {
	total, push, receive, build, pack, release, boot time.Duration
}

func run(bin string, reps int, work string) error {
	if work == "" {
		d, err := os.MkdirTemp("", "deploybench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	g := &gitEnv{home: filepath.Join(work, "home")}
	if err := os.MkdirAll(g.home, 0o700); err != nil {
		return err
	}
	floorSrv, floorRoot, err := startFloorServer(work)
	if err != nil {
		return err
	}
	defer floorSrv.Close()

	var cold, warm, floorCold, floorWarm []sample
	for i := range reps {
		// Ours and the floor alternate, so drift on a shared machine hits
		// both alike.
		repo := filepath.Join(work, fmt.Sprintf("app-%d", i))
		if err := g.newApp(repo); err != nil {
			return err
		}
		c, w, err := deployOnce(bin, g, repo, filepath.Join(work, fmt.Sprintf("data-%d", i)))
		if err != nil {
			return fmt.Errorf("rep %d: %w", i+1, err)
		}
		cold, warm = append(cold, c), append(warm, w)

		// The floor pushes the same two commits to a new bare repository.
		bare := fmt.Sprintf("floor-%d.git", i)
		if err := g.git(floorRoot, "init", "-q", "--bare", bare); err != nil {
			return err
		}
		if err := g.git(filepath.Join(floorRoot, bare), "config", "http.receivepack", "true"); err != nil {
			return err
		}
		url := "http://" + floorSrv.Addr + "/" + bare
		fc, err := g.timedPush(repo, url, "HEAD~1:refs/heads/main")
		if err != nil {
			return fmt.Errorf("rep %d: floor push: %w", i+1, err)
		}
		fw, err := g.timedPush(repo, url, "HEAD:refs/heads/main")
		if err != nil {
			return fmt.Errorf("rep %d: floor push: %w", i+1, err)
		}
		floorCold, floorWarm = append(floorCold, sample{total: fc}), append(floorWarm, sample{total: fw})
		fmt.Fprintf(os.Stderr, "rep %d/%d: cold %v (floor %v), warm %v (floor %v)\n", i+1, reps,
			c.total.Round(time.Millisecond), fc.Round(time.Millisecond), w.total.Round(time.Millisecond), fw.Round(time.Millisecond))
	}

	fmt.Printf("\ndeploy latency: git push → first 200 through the router, median of %d\n", reps)
	fmt.Printf("(floor: git push of the same commits to a bare repository over smart HTTP, git http-backend)\n\n")
	fmt.Printf("%-6s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n", "", "total", "push", "receive", "build", "pack", "release", "boot", "floor", "ratio")
	for _, row := range []struct {
		name  string
		s, fl []sample
	}{{"cold", cold, floorCold}, {"warm", warm, floorWarm}} {
		m := medianOf(row.s)
		f := medianOf(row.fl).total
		fmt.Printf("%-6s %9s %9s %9s %9s %9s %9s %9s %9s %8.0fx\n", row.name,
			ms(m.total), ms(m.push), ms(m.receive), ms(m.build), ms(m.pack), ms(m.release), ms(m.boot), ms(f),
			float64(m.total)/float64(f))
	}
	fmt.Printf("\nphases are medians of each phase (they need not add up to the median total);\n")
	fmt.Printf("ratio = deploy total / floor. cold: fresh data dir, empty build cache (-share-go-cache=false);\n")
	fmt.Printf("warm: a second push of a one-line change to the same app.\n")
	return nil
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// medianOf takes the median of each field separately.
func medianOf(ss []sample) sample {
	pick := func(f func(sample) time.Duration) time.Duration {
		v := make([]time.Duration, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return sample{
		total:   pick(func(s sample) time.Duration { return s.total }),
		push:    pick(func(s sample) time.Duration { return s.push }),
		receive: pick(func(s sample) time.Duration { return s.receive }),
		build:   pick(func(s sample) time.Duration { return s.build }),
		pack:    pick(func(s sample) time.Duration { return s.pack }),
		release: pick(func(s sample) time.Duration { return s.release }),
		boot:    pick(func(s sample) time.Duration { return s.boot }),
	}
}

// deployOnce starts a minipaas on a fresh data dir, creates an app, pushes
// repo's first commit (cold), then its second (warm), and stops it.
func deployOnce(bin string, g *gitEnv, repo, dataDir string) (cold, warm sample, err error) {
	mp, err := startMinipaas(bin, dataDir)
	if err != nil {
		return cold, warm, err
	}
	defer func() {
		if serr := mp.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := mp.createApp("bench"); err != nil {
		return cold, warm, err
	}
	url := "http://:" + mp.token + "@" + mp.apiAddr + "/bench.git"
	if cold, err = mp.deploy(g, repo, url, "HEAD~1:refs/heads/main", "version 1"); err != nil {
		return cold, warm, fmt.Errorf("cold deploy: %w", err)
	}
	if warm, err = mp.deploy(g, repo, url, "HEAD:refs/heads/main", "version 2"); err != nil {
		return cold, warm, fmt.Errorf("warm deploy: %w", err)
	}
	return cold, warm, nil
}

// minipaasProc is one minipaas process.
type minipaasProc struct {
	cmd                 *exec.Cmd
	token               string
	apiAddr, routerAddr string
	deployed            chan phases // from the -v log
	exited              chan error
	stderrTail          *tail
}

type phases struct {
	build, pack, release time.Duration
}

func startMinipaas(bin, dataDir string) (*minipaasProc, error) {
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	mp := &minipaasProc{token: hex.EncodeToString(tok), deployed: make(chan phases, 4), exited: make(chan error, 1), stderrTail: &tail{}}
	cmd := exec.Command(bin, "-data-dir", dataDir,
		"-router-addr", "127.0.0.1:0", "-api-addr", "127.0.0.1:0", "-rendezvous-addr", "127.0.0.1:0",
		"-share-go-cache=false", "-v")
	cmd.Env = append(os.Environ(), "DYNOKIT_API_TOKEN="+mp.token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	mp.cmd = cmd
	addrs := make(chan [2]string, 1)
	go func() {
		var router, api string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if _, after, ok := strings.Cut(line, "(router on "); ok {
				router = strings.TrimSuffix(after, ")")
			}
			if _, after, ok := strings.Cut(line, "API and git:  http://"); ok {
				api = strings.TrimSpace(after)
			}
			if router != "" && api != "" {
				addrs <- [2]string{router, api}
				router, api = "", ""
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			mp.stderrTail.add(line)
			if ph, ok := parseDeployed(line); ok {
				mp.deployed <- ph
			}
		}
	}()
	go func() { mp.exited <- cmd.Wait() }()
	select {
	case a := <-addrs:
		mp.routerAddr, mp.apiAddr = a[0], a[1]
		return mp, nil
	case err := <-mp.exited:
		return nil, fmt.Errorf("minipaas exited at start (%v):\n%s", err, mp.stderrTail)
	case <-time.After(60 * time.Second):
		_ = mp.stop()
		return nil, errors.New("minipaas did not start within 60 s")
	}
}

// parseDeployed reads the platform's -v line
// `msg="platform: deployed" ... build=1.2s pack=30ms release_time=200ms`.
func parseDeployed(line string) (phases, bool) {
	if !strings.Contains(line, `msg="platform: deployed"`) {
		return phases{}, false
	}
	var ph phases
	found := 0
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		var dst *time.Duration
		switch k {
		case "build":
			dst = &ph.build
		case "pack":
			dst = &ph.pack
		case "release_time":
			dst = &ph.release
		default:
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return phases{}, false
		}
		*dst = d
		found++
	}
	return ph, found == 3
}

// stop sends SIGTERM (the platform stops its dynos) and waits.
func (mp *minipaasProc) stop() error {
	_ = mp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-mp.exited:
		if err != nil {
			return fmt.Errorf("minipaas: %v", err)
		}
		return nil
	case <-time.After(60 * time.Second):
		_ = mp.cmd.Process.Kill()
		<-mp.exited
		return errors.New("minipaas did not stop within 60 s of SIGTERM")
	}
}

func (mp *minipaasProc) createApp(name string) error {
	req, err := http.NewRequest("POST", "http://"+mp.apiAddr+"/apps", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	req.Header.Set("Authorization", "Bearer "+mp.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create app: %d %s", resp.StatusCode, b)
	}
	return nil
}

// deploy pushes refspec and waits for the router to serve want.
func (mp *minipaasProc) deploy(g *gitEnv, repo, url, refspec, want string) (sample, error) {
	for len(mp.deployed) > 0 {
		<-mp.deployed
	}
	start := time.Now()
	out, err := g.output(repo, "push", "-q", url, refspec)
	if err != nil {
		return sample{}, fmt.Errorf("git push: %v\n%s", err, out)
	}
	pushed := time.Now()
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := start.Add(5 * time.Minute)
	for {
		req, err := http.NewRequest("GET", "http://"+mp.routerAddr+"/", nil)
		if err != nil {
			return sample{}, err
		}
		req.Host = "bench.localhost"
		req.Close = true
		if resp, err := client.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), want) {
				break
			}
		}
		if time.Now().After(deadline) {
			return sample{}, fmt.Errorf("no 200 with %q through the router within 5 min of the push", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := time.Now()
	var ph phases
	select {
	case ph = <-mp.deployed:
	case <-time.After(10 * time.Second):
		return sample{}, fmt.Errorf("no \"platform: deployed\" line from minipaas -v:\n%s", mp.stderrTail)
	}
	s := sample{total: done.Sub(start), push: pushed.Sub(start), build: ph.build, pack: ph.pack, release: ph.release, boot: done.Sub(pushed)}
	s.receive = max(s.push-ph.build-ph.pack-ph.release, 0)
	return s, nil
}

// tail keeps the last lines of a stream for error messages.
type tail struct {
	lines []string
}

func (t *tail) add(l string) {
	t.lines = append(t.lines, l)
	if len(t.lines) > 30 {
		t.lines = t.lines[1:]
	}
}

func (t *tail) String() string { return strings.Join(t.lines, "\n") }

// startFloorServer serves the bare repositories under work/floor with git
// http-backend through net/http/cgi, the way minipaas's git server does,
// minus the deploy.
func startFloorServer(work string) (*http.Server, string, error) {
	root := filepath.Join(work, "floor")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, "", err
	}
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	h := &cgi.Handler{
		Path: git,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, root, nil
}

// gitEnv runs git with an isolated configuration.
type gitEnv struct{ home string }

func (g *gitEnv) output(dir string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+g.home, "XDG_CONFIG_HOME="+g.home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+filepath.Join(g.home, "gitconfig"), "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=Bench", "GIT_COMMITTER_EMAIL=bench@example.com")
	return cmd.CombinedOutput()
}

func (g *gitEnv) git(dir string, args ...string) error {
	if out, err := g.output(dir, args...); err != nil {
		return fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (g *gitEnv) timedPush(repo, url, refspec string) (time.Duration, error) {
	start := time.Now()
	if out, err := g.output(repo, "push", "-q", url, refspec); err != nil {
		return 0, fmt.Errorf("%v\n%s", err, out)
	}
	return time.Since(start), nil
}

// newApp writes the trivial Go web app in two commits on main: the second
// changes one line (what it answers).
func (g *gitEnv) newApp(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name, body string) error { return os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644) }
	if err := write("go.mod", "module benchapp\n\ngo 1.22\n"); err != nil {
		return err
	}
	for i, v := range []string{"version 1", "version 2"} {
		if err := write("main.go", appSource(v)); err != nil {
			return err
		}
		if i == 0 {
			if err := g.git(dir, "init", "-q", "-b", "main"); err != nil {
				return err
			}
		}
		if err := g.git(dir, "add", "."); err != nil {
			return err
		}
		if err := g.git(dir, "commit", "-q", "-m", v); err != nil {
			return err
		}
	}
	return nil
}

func appSource(version string) string {
	return `package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("` + version + `\n"))
	})
	http.ListenAndServe(":"+os.Getenv("PORT"), nil)
}
`
}
