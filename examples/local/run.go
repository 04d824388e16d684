package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/local"
	"github.com/dynokit/dynokit/procfile"
	"github.com/dynokit/dynokit/procfile/dotenv"
)

const appName = "local"

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, dir string, stdout, stderr io.Writer, color bool) int {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	chdir := fs.String("C", "", "run in this directory instead of the current one (like git -C)")
	procfilePath := fs.String("f", "Procfile", "the Procfile")
	envPath := fs.String("e", ".env", "the .env file (optional when left at its default)")
	basePort := fs.Int("p", 5000, "port of the first process type; each further type adds 100")
	grace := fs.Duration("t", 5*time.Second, "grace period between SIGTERM and SIGKILL")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: local [-C dir] [-f Procfile] [-e .env] [-p 5000] [-t 5s] [web=1,worker=2 | web worker]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *chdir != "" {
		if !filepath.IsAbs(*chdir) {
			*chdir = filepath.Join(dir, *chdir)
		}
		if fi, err := os.Stat(*chdir); err != nil || !fi.IsDir() {
			fmt.Fprintf(stderr, "local: -C %s: not a directory\n", *chdir)
			return 2
		}
		dir = *chdir
	}
	if *basePort < 1 || *basePort > 65535 {
		fmt.Fprintf(stderr, "local: -p %d: port must be from 1 to 65535\n", *basePort)
		return 2
	}
	if *grace <= 0 {
		fmt.Fprintf(stderr, "local: -t %v: grace period must be positive\n", *grace)
		return 2
	}

	pf, err := readProcfile(filepath.Join(dir, *procfilePath))
	if err != nil {
		fmt.Fprintf(stderr, "local: %v\n", err)
		return 1
	}
	env, err := readEnv(filepath.Join(dir, *envPath), *envPath == ".env")
	if err != nil {
		fmt.Fprintf(stderr, "local: %v\n", err)
		return 1
	}
	// "web=1,worker=2", or heroku local's "web worker" as separate words.
	quantities, err := formationFor(pf, strings.Join(fs.Args(), ","))
	if err != nil {
		fmt.Fprintf(stderr, "local: %v\n", err)
		return 2
	}

	// foreman's port scheme: the nth process type (Procfile order) starts
	// at base+100n, its instances count up by one.
	typeIndex := map[string]int{}
	for i, t := range pf.Types() {
		typeIndex[t] = i
	}
	processes := map[string]formation.Process{}
	for t, q := range quantities {
		processes[t] = formation.Process{Quantity: q}
		if last := *basePort + 100*typeIndex[t] + q - 1; q > 0 && last > 65535 {
			fmt.Fprintf(stderr, "local: %s.%d would need port %d, above 65535\n", t, q, last)
			return 2
		}
	}

	out := newPrefixer(stdout, color, names(quantities))
	baseEnv := append(os.Environ(), env...)
	// Dynos run in dir itself; the runtime only needs room for their tmp.
	base, err := os.MkdirTemp("", "heroku-local-")
	if err != nil {
		fmt.Fprintf(stderr, "local: %v\n", err)
		return 1
	}
	defer os.RemoveAll(base)
	rt := &local.Runtime{InPlace: true, BaseDir: base}
	var (
		mu       sync.Mutex
		exitCode int
		crashed  bool
		lastExit = map[string]int{} // dyno ID → status of its exit
	)
	runCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	rec := &formation.Reconciler{
		Runtime: rt,
		Spec: func(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
			cmd, _ := pf.Command(req.Type)
			port := *basePort + 100*typeIndex[req.Type] + req.Index - 1
			spec := formation.DynoSpec{
				Command: cmd,
				SlugDir: dir,
				Env:     append(slices.Clone(baseEnv), "PORT="+strconv.Itoa(port), "DYNO="+req.Name),
			}
			if req.Type == "web" {
				spec.Port = port // only web dynos are waited on to bind
			}
			return spec, nil
		},
		Output: func(app, dyno string) formation.Stdio {
			w := out.writer(dyno)
			return formation.Stdio{Stdout: w, Stderr: w}
		},
		OnEvent: func(e formation.Event) {
			out.system(e.Dyno, e.Message)
			mu.Lock()
			defer mu.Unlock()
			if e.Exit != nil {
				lastExit[e.DynoID] = e.Exit.Code
			}
			if e.Kind == formation.EventState && e.State == formation.StateCrashed && !crashed {
				crashed = true // the first crash ends the run with its status
				exitCode = lastExit[e.DynoID]
				if exitCode <= 0 {
					exitCode = 1 // it exited 0 or could not start: still a failure
				}
				stopAll()
			}
		},
		Grace:   *grace,
		Backoff: []time.Duration{time.Hour}, // never restart: the run ends instead
	}
	if err := rec.Set(formation.Formation{App: appName, Release: 1, Processes: processes}); err != nil {
		fmt.Fprintf(stderr, "local: %v\n", err)
		return 2
	}
	if err := rec.Run(runCtx); err != nil {
		fmt.Fprintf(stderr, "local: %v\n", err)
		return 1
	}
	out.flush()
	mu.Lock()
	defer mu.Unlock()
	return exitCode
}

func readProcfile(path string) (*procfile.Procfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read Procfile: %w", err)
	}
	defer f.Close()
	pf, err := procfile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(pf.Types()) == 0 {
		return nil, fmt.Errorf("%s defines no process types", path)
	}
	return pf, nil
}

// readEnv reads the .env file; a missing file is fine when optional.
func readEnv(path string, optional bool) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && optional {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	defer f.Close()
	env, err := dotenv.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return env.Environ(), nil
}

// formationFor is every Procfile type at 1, or the formation argument,
// whose types must be in the Procfile.
func formationFor(pf *procfile.Procfile, arg string) (map[string]int, error) {
	if arg == "" {
		q := map[string]int{}
		for _, t := range pf.Types() {
			if t != "release" { // the release phase is not a long-running process
				q[t] = 1
			}
		}
		return q, nil
	}
	q, err := formation.ParseQuantities(arg)
	if err != nil {
		return nil, err
	}
	for t := range q {
		if _, ok := pf.Command(t); !ok {
			return nil, fmt.Errorf("formation %q: process type %q is not in the Procfile (types: %s)", arg, t, strings.Join(pf.Types(), ", "))
		}
	}
	return q, nil
}

func names(q map[string]int) []string {
	var out []string
	for t, n := range q {
		for i := 1; i <= n; i++ {
			out = append(out, formation.DynoName(t, i))
		}
	}
	slices.Sort(out)
	return out
}

// prefixer writes whole lines, each as "15:04:05 web.1  | line", to one
// output shared by every dyno; on a terminal each dyno has a colour.
type prefixer struct {
	mu      sync.Mutex
	out     io.Writer
	color   bool
	width   int
	colors  map[string]string
	pending map[string]*lineWriter
	now     func() time.Time
}

var palette = []string{"36", "33", "32", "35", "34", "91", "96", "93", "92", "95"}

func newPrefixer(out io.Writer, color bool, names []string) *prefixer {
	p := &prefixer{out: out, color: color, width: len("system"), colors: map[string]string{}, pending: map[string]*lineWriter{}, now: time.Now}
	for i, n := range names {
		p.width = max(p.width, len(n))
		p.colors[n] = palette[i%len(palette)]
	}
	return p
}

func (p *prefixer) line(name, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prefix := fmt.Sprintf("%s %-*s |", p.now().Format("15:04:05"), p.width, name)
	if p.color {
		c := p.colors[name]
		if c == "" {
			c = "1" // platform lines in bold
		}
		prefix = "\x1b[" + c + "m" + prefix + "\x1b[0m"
	}
	fmt.Fprintf(p.out, "%s %s\n", prefix, text)
}

// system prints a platform line about a dyno, as heroku[web.1] would log it.
func (p *prefixer) system(dyno, msg string) {
	p.line("system", dyno+": "+msg)
}

func (p *prefixer) writer(dyno string) io.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := &lineWriter{p: p, name: dyno}
	p.pending[dyno] = w
	return w
}

// flush prints what dynos wrote without a final newline.
func (p *prefixer) flush() {
	p.mu.Lock()
	ws := make([]*lineWriter, 0, len(p.pending))
	for _, w := range p.pending {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.flush()
	}
}

type lineWriter struct {
	p    *prefixer
	name string
	mu   sync.Mutex
	buf  []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.p.line(w.name, strings.TrimSuffix(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a very long line is printed in pieces
		w.p.line(w.name, string(w.buf))
		w.buf = nil
	}
	return len(b), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.p.line(w.name, string(w.buf))
		w.buf = nil
	}
}
