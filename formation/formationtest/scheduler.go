package formationtest

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/slug"
)

// SchedulerOptions describe what the engine under TestScheduler can do.
type SchedulerOptions struct {
	// RunsDynos is true when the engine runs processes. Without it (an API
	// server with no nodes) only the API-level cases run: validation,
	// unknown apps and types, idempotent Apply and Delete, and, with
	// Desired, the quantities the engine was asked for.
	RunsDynos bool
	// NoDynosReason is the skip message of the cases that need dynos when
	// RunsDynos is false.
	NoDynosReason string
	// Slug is where the engine's nodes fetch the suite's slug: ServeSlug's
	// answer for nodes on this host. Required when RunsDynos; otherwise any
	// URL will do (nothing downloads it).
	Slug formation.SlugSource
	// Desired, when set, reads back the quantity of each process type the
	// engine was asked to run for app (for example a Nomad job's group
	// counts or Deployments' replicas), so the API-level cases can check
	// Apply, Scale and removals without dynos.
	Desired func(ctx context.Context, app string) (map[string]int, error)
	// Timeout bounds each wait for the engine to converge; zero means
	// 2 minutes.
	Timeout time.Duration
	// UnindexedNames is true for engines whose dynos cannot be numbered
	// 1…n, such as a Kubernetes Deployment's pods: their names are
	// "<type>.<unique suffix>", and the suite checks only how many of each
	// type run and that the names are distinct.
	UnindexedNames bool
	// CallbackAddr is where the suite listens for its dynos' boot reports
	// (the crash case), as for ServeSlugAt; empty means 127.0.0.1:0.
	CallbackAddr string
}

// The suite's dyno program is the test binary itself (ServeSlug puts it in
// the slug as bin/dynohelper); DynoMain runs it when helperEnv is set.
const (
	helperEnv  = "FORMATIONTEST_DYNO"
	helperPath = "bin/dynohelper"
)

// DynoMain runs the scheduler suite's dyno program and exits when the test
// binary was started as one (by an engine, inside a dyno of the suite);
// otherwise it returns at once. Call it first in TestMain:
//
//	func TestMain(m *testing.M) {
//		formationtest.DynoMain()
//		os.Exit(m.Run())
//	}
//
// The program's modes (its first argument) are "web" (an HTTP server on
// $PORT answering "dyno=$DYNO greeting=$GREETING"), "worker" (runs until
// SIGTERM) and "crash" (asks $FORMATIONTEST_BOOT_URL whether to crash, and
// exits with status 3 if told so, else runs as a worker).
func DynoMain() {
	if os.Getenv(helperEnv) == "" {
		return
	}
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[len(os.Args)-1] // after flags: see checkDynoMain
	}
	os.Exit(dynoMain(mode))
}

func dynoMain(mode string) int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	dyno := os.Getenv("DYNO")
	switch mode {
	case "probe":
		fmt.Println(probeLine)
		return 0
	case "crash":
		resp, err := http.Get(os.Getenv("FORMATIONTEST_BOOT_URL") + "?dyno=" + dyno)
		if err != nil {
			fmt.Fprintln(os.Stderr, "boot report:", err)
			return 1
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) == "crash" {
			fmt.Println(dyno, "crashing as told")
			return 3
		}
		fallthrough
	case "worker":
		fmt.Println(dyno, "working")
		<-term
		fmt.Println(dyno, "got SIGTERM")
		return 0
	case "web":
		ln, err := net.Listen("tcp", ":"+os.Getenv("PORT"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "dyno=%s greeting=%s\n", dyno, os.Getenv("GREETING"))
		}), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			<-term
			fmt.Println(dyno, "got SIGTERM")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}()
		fmt.Println(dyno, "listening on", os.Getenv("PORT"))
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "formationtest: unknown dyno mode %q\n", mode)
	return 2
}

const probeLine = "formationtest dyno program"

// checkDynoMain runs exe as a dyno would, in the "probe" mode: without
// DynoMain in its TestMain the binary would run its tests inside every
// dyno instead. The -test.run flag first makes such a binary run nothing.
func checkDynoMain(exe string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$", "probe")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), probeLine) {
		return fmt.Errorf("formationtest: %s does not run the suite's dyno program (%v: %q): its TestMain must call formationtest.DynoMain first", exe, err, out)
	}
	return nil
}

// ServeSlug makes a slug holding the test binary as bin/dynohelper (whose
// TestMain must call DynoMain), stores it in a slug.FSStore and serves it
// with slug.Handler on a loopback listener until the test ends. The URL
// names the slug by its digest.
//
// The gzip stream is stored, not compressed: compressing a test binary of
// tens of megabytes takes seconds, ten times that under -race, while
// engines on this host fetch it over loopback.
func ServeSlug(t testing.TB) formation.SlugSource {
	t.Helper()
	return ServeSlugAt(t, "127.0.0.1:0")
}

// ServeSlugAt is ServeSlug listening on addr (host:port, port 0 for any),
// for engines whose nodes are not on this host: the host must be one they
// can reach, as it goes into the URL.
func ServeSlugAt(t testing.TB, addr string) formation.SlugSource {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDynoMain(exe); err != nil {
		t.Fatal(err)
	}
	var tgz bytes.Buffer
	if err := writeSlug(&tgz, exe); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tgz.Bytes())
	d, err := slug.ParseDigest("SHA256:" + hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	store := &slug.FSStore{Dir: t.TempDir()}
	if _, err := store.Put(context.Background(), &tgz, d); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.StripPrefix("/slugs/", &slug.Handler{Store: store}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return formation.SlugSource{URL: srv.URL + "/slugs/" + d.Hex(), Digest: d.String()}
}

// writeSlug writes a slug (a gzipped tar of ./app/...) holding exe as
// ./app/bin/dynohelper.
func writeSlug(w io.Writer, exe string) error {
	f, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(w, gzip.NoCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, dir := range []string{"./app/", "./app/bin/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "./app/" + helperPath, Typeflag: tar.TypeReg, Mode: 0o755, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// TestScheduler runs the conformance suite for formation.Scheduler against
// schedulers made by newScheduler (called once per case). Each case uses
// apps of its own, named "ft-<random>", and deletes them at the end.
//
// An engine that runs dynos on this host serves them the suite's slug:
//
//	func TestMain(m *testing.M) {
//		formationtest.DynoMain()
//		os.Exit(m.Run())
//	}
//
//	func TestSchedulerConformance(t *testing.T) {
//		formationtest.TestScheduler(t, newScheduler, formationtest.SchedulerOptions{
//			RunsDynos: true,
//			Slug:      formationtest.ServeSlug(t),
//		})
//	}
//
// An engine that cannot run dynos here (an API server without nodes) runs
// the API-level cases only, with RunsDynos false and, ideally, Desired.
//
// Beyond the interface's documentation the suite expects: Scale of a type
// a later Apply removed, and of any type after Delete, wraps ErrUnknown; a
// negative quantity is an error; Dynos of a deleted app is empty at once
// or soon; a web dyno's Addr is reachable from the test process; DYNO is
// the type and an index from 1; the engine restarts a crashed dyno by
// itself within SchedulerOptions.Timeout.
func TestScheduler(t *testing.T, newScheduler func(t *testing.T) formation.Scheduler, opts SchedulerOptions) {
	t.Helper()
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	cases := []struct {
		name  string
		dynos bool
		fn    func(*sched)
	}{
		{"ApplyInvalid", false, testApplyInvalid},
		{"UnknownApp", false, testUnknownApp},
		{"APILifecycle", false, testAPILifecycle},
		{"Dynos", true, testDynoLifecycle},
		{"CrashRestarted", true, testCrashRestarted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.dynos && !opts.RunsDynos {
				t.Skip(cmp.Or(opts.NoDynosReason, "the engine runs no dynos (SchedulerOptions.RunsDynos)"))
			}
			if c.dynos && opts.Slug.URL == "" {
				t.Fatal("SchedulerOptions.Slug is required when RunsDynos")
			}
			s := &sched{t: t, s: newScheduler(t), opts: opts}
			defer s.cleanup()
			c.fn(s)
		})
	}
}

// sched is one case's state.
type sched struct {
	t    *testing.T
	s    formation.Scheduler
	opts SchedulerOptions
	apps []string
}

// app names a fresh app that cleanup deletes.
func (s *sched) app() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "ft-" + hex.EncodeToString(b)
	s.apps = append(s.apps, name)
	return name
}

func (s *sched) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.Timeout)
}

func (s *sched) cleanup() {
	ctx, cancel := s.ctx()
	defer cancel()
	for _, app := range s.apps {
		if err := s.s.Delete(ctx, app); err != nil {
			s.t.Errorf("cleanup: Delete(%s): %v", app, err)
		}
	}
}

// deployment is the suite's app: its dyno program from the suite's slug.
func (s *sched) deployment(app string, release int, greeting string, procs map[string]int) formation.Deployment {
	src := s.opts.Slug
	if src.URL == "" {
		src = formation.SlugSource{URL: "http://127.0.0.1:9/slugs/none"}
	}
	return Deployment(app, release, src, procs, "GREETING="+greeting)
}

// Deployment is a Deployment of the suite's dyno program (see DynoMain)
// from src (ServeSlug's slug): each process type of procs with its
// quantity, "web" an HTTP server, "crash" the crash mode and any other a
// worker, each limited to 128 MB; env adds config vars. Grace is 5 s.
func Deployment(app string, release int, src formation.SlugSource, procs map[string]int, env ...string) formation.Deployment {
	d := formation.Deployment{
		App:       app,
		Release:   release,
		Slug:      src,
		Env:       append([]string{helperEnv + "=1"}, env...),
		Grace:     5 * time.Second,
		Processes: map[string]formation.ProcessSpec{},
	}
	for typ, n := range procs {
		mode := typ
		if typ != "web" && typ != "crash" {
			mode = "worker"
		}
		d.Processes[typ] = formation.ProcessSpec{
			Command:   helperPath + " " + mode,
			Quantity:  n,
			Resources: formation.Resources{MemoryBytes: 128 << 20},
		}
	}
	return d
}

func (s *sched) apply(d formation.Deployment) {
	s.t.Helper()
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.s.Apply(ctx, d); err != nil {
		s.t.Fatalf("Apply(%s v%d): %v", d.App, d.Release, err)
	}
}

func (s *sched) scale(app, typ string, n int) {
	s.t.Helper()
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.s.Scale(ctx, app, typ, n); err != nil {
		s.t.Fatalf("Scale(%s, %s, %d): %v", app, typ, n, err)
	}
}

// awaitDesired waits until Desired reports want (when the option is set).
func (s *sched) awaitDesired(app string, want map[string]int) {
	s.t.Helper()
	if s.opts.Desired == nil {
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var got map[string]int
	var err error
	for {
		got, err = s.opts.Desired(ctx, app)
		if err == nil && mapsEqual(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("desired quantities of %s: %v (err %v), want %v", app, got, err, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// awaitDynos polls Dynos until ok accepts the list, and returns it.
func (s *sched) awaitDynos(app, what string, ok func([]formation.DynoStatus) bool) []formation.DynoStatus {
	s.t.Helper()
	ctx, cancel := s.ctx()
	defer cancel()
	var last []formation.DynoStatus
	var lastErr error
	for {
		ds, err := s.s.Dynos(ctx, app)
		if err == nil {
			if !slices.IsSortedFunc(ds, func(a, b formation.DynoStatus) int {
				if a.Type != b.Type {
					return strings.Compare(a.Type, b.Type)
				}
				if s.opts.UnindexedNames {
					return strings.Compare(a.Name, b.Name)
				}
				return dynoIndex(a.Name) - dynoIndex(b.Name)
			}) {
				s.t.Fatalf("Dynos(%s) not sorted by type and index: %s", app, describe(ds))
			}
			if ok(ds) {
				return ds
			}
			last = ds
		}
		lastErr = err
		select {
		case <-ctx.Done():
			s.t.Fatalf("%s: never reached; last Dynos(%s) = %s (err %v)", what, app, describe(last), lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func dynoIndex(name string) int {
	_, n, _ := strings.Cut(name, ".")
	i := 0
	for _, c := range n {
		if c < '0' || c > '9' {
			return 0
		}
		i = i*10 + int(c-'0')
	}
	return i
}

func describe(ds []formation.DynoStatus) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%s(v%d %s %s)", d.Name, d.Release, d.State, d.Addr))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// formationIs reports whether ds is exactly the wanted dynos, all up, of
// the release: names typ.1…typ.n for each type, or with
// SchedulerOptions.UnindexedNames n distinct names "typ.<suffix>".
func (s *sched) formationIs(release int, want map[string]int) func([]formation.DynoStatus) bool {
	return func(ds []formation.DynoStatus) bool {
		var names, wantNames []string
		for _, d := range ds {
			if d.State != formation.StateUp || d.Release != release {
				return false
			}
			name := d.Name
			if s.opts.UnindexedNames {
				typ, suffix, _ := strings.Cut(name, ".")
				if typ != d.Type || suffix == "" || slices.Contains(names, name) {
					return false
				}
				name = typ + ".*"
			}
			names = append(names, name)
		}
		for typ, n := range want {
			for i := 1; i <= n; i++ {
				if s.opts.UnindexedNames {
					wantNames = append(wantNames, typ+".*")
				} else {
					wantNames = append(wantNames, formation.DynoName(typ, i))
				}
			}
		}
		slices.Sort(names)
		slices.Sort(wantNames)
		return slices.Equal(names, wantNames)
	}
}

// get fetches http://addr/ until it answers 200 (a dyno is up before every
// path to it is, on some engines) and returns the body.
func (s *sched) get(addr string) string {
	s.t.Helper()
	ctx, cancel := s.ctx()
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("%s: %q", resp.Status, b)
		}
		last = err
		select {
		case <-ctx.Done():
			s.t.Fatalf("GET http://%s/: %v", addr, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func testApplyInvalid(s *sched) {
	ctx, cancel := s.ctx()
	defer cancel()
	app := s.app()
	for name, d := range map[string]formation.Deployment{
		"no app":     {Slug: formation.SlugSource{URL: "http://127.0.0.1:9/x"}},
		"no slug":    {App: app},
		"empty type": {App: app, Slug: formation.SlugSource{URL: "http://127.0.0.1:9/x"}, Processes: map[string]formation.ProcessSpec{"web": {Quantity: 1}}},
	} {
		if err := s.s.Apply(ctx, d); err == nil {
			s.t.Errorf("Apply(%s) succeeded", name)
		}
	}
	if ds, err := s.s.Dynos(ctx, app); err != nil || len(ds) != 0 {
		s.t.Errorf("after invalid Applies: Dynos = %s, %v; want none", describe(ds), err)
	}
}

func testUnknownApp(s *sched) {
	ctx, cancel := s.ctx()
	defer cancel()
	app := s.app()
	if ds, err := s.s.Dynos(ctx, app); err != nil || len(ds) != 0 {
		s.t.Errorf("Dynos of an unknown app = %s, %v; want none", describe(ds), err)
	}
	if err := s.s.Scale(ctx, app, "web", 1); !errors.Is(err, formation.ErrUnknown) {
		s.t.Errorf("Scale of an unknown app = %v, want ErrUnknown", err)
	}
	if err := s.s.Delete(ctx, app); err != nil {
		s.t.Errorf("Delete of an unknown app = %v", err)
	}
}

// testAPILifecycle checks what the engine accepts, without dynos: Apply
// twice, Scale, Scale of an unknown type, a type removed, Delete twice.
func testAPILifecycle(s *sched) {
	ctx, cancel := s.ctx()
	defer cancel()
	app := s.app()
	d := s.deployment(app, 1, "hello", map[string]int{"web": 2, "worker": 1})
	s.apply(d)
	s.apply(d) // the same Deployment again changes nothing
	s.awaitDesired(app, map[string]int{"web": 2, "worker": 1})
	s.scale(app, "worker", 3)
	s.awaitDesired(app, map[string]int{"web": 2, "worker": 3})
	if err := s.s.Scale(ctx, app, "clock", 1); !errors.Is(err, formation.ErrUnknown) {
		s.t.Errorf("Scale of an unknown type = %v, want ErrUnknown", err)
	}
	if err := s.s.Scale(ctx, app, "web", -1); err == nil {
		s.t.Error("Scale to -1 succeeded")
	}
	d2 := s.deployment(app, 2, "hello", map[string]int{"web": 0})
	s.apply(d2)
	s.awaitDesired(app, map[string]int{"web": 0})
	if err := s.s.Scale(ctx, app, "worker", 1); !errors.Is(err, formation.ErrUnknown) {
		s.t.Errorf("Scale of a removed type = %v, want ErrUnknown", err)
	}
	for range 2 {
		if err := s.s.Delete(ctx, app); err != nil {
			s.t.Fatalf("Delete: %v", err)
		}
	}
	if err := s.s.Scale(ctx, app, "web", 1); !errors.Is(err, formation.ErrUnknown) {
		s.t.Errorf("Scale after Delete = %v, want ErrUnknown", err)
	}
	if s.opts.Desired != nil {
		if got, err := s.opts.Desired(ctx, app); err == nil && len(got) != 0 {
			s.t.Errorf("desired quantities after Delete: %v, want none", got)
		}
	}
}

// testDynoLifecycle runs one app through its life: deploy, HTTP to a web
// dyno, scale down and up, a new release, a type removed, Delete.
func testDynoLifecycle(s *sched) {
	app := s.app()
	s.apply(s.deployment(app, 1, "hello", map[string]int{"web": 2, "worker": 1}))
	ds := s.awaitDynos(app, "web.1, web.2 and worker.1 up", s.formationIs(1, map[string]int{"web": 2, "worker": 1}))
	for _, d := range ds {
		if d.ID == "" || d.App != app || d.Command == "" {
			s.t.Errorf("dyno %+v: ID, App and Command must be set", d)
		}
		if d.Type != "web" {
			continue
		}
		if d.Addr == "" {
			s.t.Fatalf("web dyno %s has no Addr", d.Name)
		}
		if body, want := s.get(d.Addr), fmt.Sprintf("dyno=%s greeting=hello\n", d.Name); body != want {
			s.t.Errorf("GET %s (%s) = %q, want %q", d.Addr, d.Name, body, want)
		}
	}

	s.scale(app, "web", 1)
	s.awaitDynos(app, "scaled down to web.1", s.formationIs(1, map[string]int{"web": 1, "worker": 1}))
	s.scale(app, "web", 3)
	s.awaitDynos(app, "scaled up to web.3", s.formationIs(1, map[string]int{"web": 3, "worker": 1}))

	// A new release (new config) replaces every dyno; its quantities win
	// over the Scale above.
	s.apply(s.deployment(app, 2, "bonjour", map[string]int{"web": 2, "worker": 1}))
	ds = s.awaitDynos(app, "release 2 up", s.formationIs(2, map[string]int{"web": 2, "worker": 1}))
	for _, d := range ds {
		if d.Type == "web" {
			if body, want := s.get(d.Addr), fmt.Sprintf("dyno=%s greeting=bonjour\n", d.Name); body != want {
				s.t.Errorf("after release 2: GET %s (%s) = %q, want %q", d.Addr, d.Name, body, want)
			}
		}
	}

	s.apply(s.deployment(app, 3, "bonjour", map[string]int{"web": 1}))
	ds = s.awaitDynos(app, "worker removed", s.formationIs(3, map[string]int{"web": 1}))
	addr := ds[0].Addr

	ctx, cancel := s.ctx()
	defer cancel()
	for range 2 {
		if err := s.s.Delete(ctx, app); err != nil {
			s.t.Fatalf("Delete: %v", err)
		}
	}
	s.awaitDynos(app, "no dyno after Delete", func(ds []formation.DynoStatus) bool { return len(ds) == 0 })
	// The dynos are stopped, not only forgotten: the port stops answering.
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		select {
		case <-ctx.Done():
			s.t.Fatalf("web dyno at %s still accepts connections after Delete", addr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// testCrashRestarted: a dyno that crashes on its first boot is started
// again by the engine, with no call from the suite.
func testCrashRestarted(s *sched) {
	var mu sync.Mutex
	boots := 0
	ln, err := net.Listen("tcp", cmp.Or(s.opts.CallbackAddr, "127.0.0.1:0"))
	if err != nil {
		s.t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		boots++
		n := boots
		mu.Unlock()
		if n == 1 {
			fmt.Fprint(w, "crash")
			return
		}
		fmt.Fprint(w, "run")
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	app := s.app()
	d := s.deployment(app, 1, "hello", map[string]int{"crash": 1})
	d.Env = append(d.Env, "FORMATIONTEST_BOOT_URL="+srv.URL)
	s.apply(d)
	s.awaitDynos(app, "crash.1 up after its crash", func(ds []formation.DynoStatus) bool {
		mu.Lock()
		defer mu.Unlock()
		return boots >= 2 && s.formationIs(1, map[string]int{"crash": 1})(ds)
	})
	mu.Lock()
	defer mu.Unlock()
	if boots != 2 {
		s.t.Errorf("the dyno booted %d times, want 2 (one crash, one restart)", boots)
	}
}
