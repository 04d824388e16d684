package oci_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/oci"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func webDyno() formation.DynoSpec {
	return formation.DynoSpec{
		ID:      "myapp.web.1.v3.k2j4",
		App:     "myapp",
		Name:    "web.1",
		Type:    "web",
		Release: 3,
		Command: "bundle exec puma -p $PORT",
		Env:     []string{"DATABASE_URL=postgres://db/myapp", "RACK_ENV=production"},
		SlugDir: "/var/lib/dynokit/slugs/myapp/v3",
		Port:    5000,
		Resources: formation.Resources{
			MemoryBytes: 512 << 20,
			PIDs:        256,
			CPUShares:   2048,
		},
	}
}

func TestSpecGolden(t *testing.T) {
	tests := []struct {
		name string
		dyno formation.DynoSpec
		opts []oci.Opt
	}{
		{name: "defaults", dyno: webDyno()},
		{name: "runtime", dyno: webDyno(), opts: []oci.Opt{
			oci.WithUser(10001, 10001),
			oci.WithAppLayer("/var/lib/dynokit/oci/bundles/myapp.web.1.v3.k2j4/app/upper", "/var/lib/dynokit/oci/bundles/myapp.web.1.v3.k2j4/app/work"),
			oci.WithCgroupsPath("/dynokit/1a2b3c4d-myapp.web.1.v3.k2j4"),
			oci.WithHostBinds("/usr", "/etc", "/bin", "/sbin", "/lib"),
			oci.WithTmpSize(128 << 20),
		}},
		{name: "stack", dyno: formation.DynoSpec{
			ID: "w1", Name: "worker.1", Type: "worker", Command: "./worker", SlugDir: "/slugs/w",
		}, opts: []oci.Opt{oci.WithRootfs("/var/lib/dynokit/stacks/heroku-24"), oci.WithNetworkNamespace()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := oci.Spec(tt.dyno, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := oci.WriteBundle(dir, s); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("spec differs from %s (-want +got; go test -update rewrites it):\n%s", golden, diff)
			}
		})
	}
}

func TestSpecEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		port int
		dyno string
		want []string
	}{
		{
			name: "platform defaults added",
			port: 5000, dyno: "web.1",
			want: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/app", "PORT=5000", "DYNO=web.1"},
		},
		{
			name: "later entries win, in first position",
			env:  []string{"FOO=1", "BAR=x", "FOO=2"},
			want: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/app", "FOO=2", "BAR=x"},
		},
		{
			name: "platform PORT and DYNO kept",
			env:  []string{"PORT=6000", "DYNO=web.9"},
			port: 5000, dyno: "web.1",
			want: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/app", "PORT=6000", "DYNO=web.9"},
		},
		{
			name: "config may override PATH",
			env:  []string{"PATH=/app/bin:/usr/bin", "EMPTY="},
			want: []string{"PATH=/app/bin:/usr/bin", "HOME=/app", "EMPTY="},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := oci.Spec(formation.DynoSpec{ID: "x", Name: tt.dyno, Command: "true", SlugDir: "/s", Env: tt.env, Port: tt.port})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s.Process.Env); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateDynoSpec(t *testing.T) {
	valid := formation.DynoSpec{ID: "app.web.1", Command: "true", SlugDir: "/slug"}
	tests := []struct {
		name    string
		mutate  func(*formation.DynoSpec)
		wantErr string // substring; "" means valid
	}{
		{"valid", func(*formation.DynoSpec) {}, ""},
		{"empty ID", func(d *formation.DynoSpec) { d.ID = "" }, "ID is empty"},
		{"ID with slash", func(d *formation.DynoSpec) { d.ID = "a/b" }, `ID "a/b" must use only`},
		{"ID dot dot", func(d *formation.DynoSpec) { d.ID = ".." }, `ID ".." must use only`},
		{"ID too long", func(d *formation.DynoSpec) { d.ID = strings.Repeat("a", 201) }, "longer than 200"},
		{"empty command", func(d *formation.DynoSpec) { d.Command = "  " }, "Command is empty"},
		{"NUL in command", func(d *formation.DynoSpec) { d.Command = "a\x00b" }, "Command contains a NUL"},
		{"no slug", func(d *formation.DynoSpec) { d.SlugDir = "" }, "SlugDir is empty"},
		{"relative slug", func(d *formation.DynoSpec) { d.SlugDir = "slug" }, `SlugDir "slug" is not an absolute path`},
		{"comma in slug", func(d *formation.DynoSpec) { d.SlugDir = "/a,b" }, "overlayfs options"},
		{"port", func(d *formation.DynoSpec) { d.Port = 70000 }, "Port 70000 is outside 0-65535"},
		{"negative memory", func(d *formation.DynoSpec) { d.Resources.MemoryBytes = -1 }, "MemoryBytes -1 is negative"},
		{"tiny memory", func(d *formation.DynoSpec) { d.Resources.MemoryBytes = 1024 }, "below the 4 MiB"},
		{"negative pids", func(d *formation.DynoSpec) { d.Resources.PIDs = -5 }, "PIDs -5 is negative"},
		{"negative cpu shares", func(d *formation.DynoSpec) { d.Resources.CPUShares = -1024 }, "Resources.CPUShares -1024 is negative"},
		{"env without =", func(d *formation.DynoSpec) { d.Env = []string{"A=1", "NOPE"} }, `Env[1] "NOPE" is not KEY=VALUE`},
		{"env bad key", func(d *formation.DynoSpec) { d.Env = []string{"1A=x"} }, `Env[0] "1A=x"`},
		{"env NUL", func(d *formation.DynoSpec) { d.Env = []string{"A=x\x00y"} }, "Env[0] for A contains a NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid
			tt.mutate(&d)
			err := oci.ValidateDynoSpec(d)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if _, serr := oci.Spec(d); serr == nil {
				t.Error("Spec accepted a dyno spec that ValidateDynoSpec rejects")
			}
		})
	}
}

func TestOptErrors(t *testing.T) {
	d := formation.DynoSpec{ID: "x", Command: "true", SlugDir: "/s"}
	tests := []struct {
		name    string
		opts    []oci.Opt
		wantErr string
	}{
		{"root user", []oci.Opt{oci.WithUser(0, 100)}, "do not run as root"},
		{"relative bind", []oci.Opt{oci.WithHostBinds("usr")}, `host bind "usr"`},
		{"bind over app", []oci.Opt{oci.WithHostBinds("/app/x")}, "/app is managed"},
		{"binds after stack", []oci.Opt{oci.WithRootfs("/stack"), oci.WithHostBinds("/usr")}, "a stack rootfs is set"},
		{"relative rootfs", []oci.Opt{oci.WithRootfs("stack")}, `rootfs "stack"`},
		{"relative layer", []oci.Opt{oci.WithAppLayer("up", "/w")}, `app layer dir "up"`},
		{"layer twice", []oci.Opt{oci.WithAppLayer("/u", "/w"), oci.WithAppLayer("/u", "/w")}, "already an overlay"},
		{"small memory", []oci.Opt{oci.WithMemoryLimit(10)}, "memory limit 10"},
		{"zero pids", []oci.Opt{oci.WithPIDsLimit(0)}, "pids limit 0"},
		{"one cpu share", []oci.Opt{oci.WithCPUShares(1)}, "cpu shares 1: want 2-262144"},
		{"too many cpu shares", []oci.Opt{oci.WithCPUShares(1<<18 + 1)}, "cpu shares 262145"},
		{"cgroup root", []oci.Opt{oci.WithCgroupsPath("/")}, `cgroups path "/"`},
		{"tiny tmp", []oci.Opt{oci.WithTmpSize(100)}, "tmp size 100"},
		{"empty version", []oci.Opt{oci.WithOCIVersion("")}, "oci version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oci.Spec(d, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSpecOptsApplyInOrder(t *testing.T) {
	custom := func(s *specs.Spec) error {
		s.Process.Env = append(s.Process.Env, "FROM_OPT=1")
		return nil
	}
	s, err := oci.Spec(webDyno(), oci.WithMemoryLimit(64<<20), nil, custom, oci.WithPIDsLimit(7), oci.WithCPUShares(512))
	if err != nil {
		t.Fatal(err)
	}
	if got := *s.Linux.Resources.CPU.Shares; got != 512 {
		t.Errorf("cpu shares = %d, want the opt to override the dyno's 2048", got)
	}
	if got := *s.Linux.Resources.Memory.Limit; got != 64<<20 {
		t.Errorf("memory limit = %d, want the opt to override the dyno's 512 MiB", got)
	}
	if got := *s.Linux.Resources.Pids.Limit; got != 7 {
		t.Errorf("pids limit = %d, want 7", got)
	}
	if last := s.Process.Env[len(s.Process.Env)-1]; last != "FROM_OPT=1" {
		t.Errorf("custom opt not applied: env ends with %q", last)
	}
	if s.Version != "1.0.2-dev" {
		t.Errorf("ociVersion = %q, want 1.0.2-dev (crun 1.8 rejects newer)", s.Version)
	}
}

// Resources.CPUShares outside the kernel's range is clamped into it rather
// than refused: the kernel would store the clamped value anyway. Zero
// leaves the spec without a cpu section (the runtime's default weight).
func TestSpecCPUShares(t *testing.T) {
	for _, tc := range []struct {
		shares int64
		want   uint64
	}{{1, 2}, {1024, 1024}, {51200, 51200}, {1 << 20, 1 << 18}} {
		d := webDyno()
		d.Resources.CPUShares = tc.shares
		s, err := oci.Spec(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := *s.Linux.Resources.CPU.Shares; got != tc.want {
			t.Errorf("CPUShares %d: spec cpu.shares = %d, want %d", tc.shares, got, tc.want)
		}
	}
	d := webDyno()
	d.Resources.CPUShares = 0
	s, err := oci.Spec(d)
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Resources.CPU != nil {
		t.Errorf("cpu = %+v, want none without CPUShares", s.Linux.Resources.CPU)
	}
}

func TestWriteBundle(t *testing.T) {
	s, err := oci.Spec(webDyno())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := oci.WriteBundle(dir, s); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back specs.Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*s, back); diff != "" {
		t.Errorf("config.json does not round-trip (-written +read):\n%s", diff)
	}
	for _, mp := range []string{"proc", "dev", "sys", "usr", "etc", "bin", "lib", "tmp", "app"} {
		fi, err := os.Stat(filepath.Join(dir, "rootfs", mp))
		if err != nil || !fi.IsDir() {
			t.Errorf("rootfs mountpoint %s: %v", mp, err)
		}
	}
	// runc gives a tmpfs its mountpoint's mode: /tmp must be world-writable and sticky.
	fi, err := os.Stat(filepath.Join(dir, "rootfs", "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeSticky); got != 0o777|os.ModeSticky {
		t.Errorf("rootfs/tmp mode = %v, want drwxrwxrwt", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("bundle holds %d entries, want config.json and rootfs only", len(entries))
	}

	// A stack rootfs outside the bundle is left alone.
	stack, err := oci.Spec(webDyno(), oci.WithRootfs("/nonexistent/stack"))
	if err != nil {
		t.Fatal(err)
	}
	dir2 := filepath.Join(t.TempDir(), "b2")
	if err := oci.WriteBundle(dir2, stack); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir2, "rootfs")); !os.IsNotExist(err) {
		t.Errorf("a rootfs dir was created for a stack rootfs (stat: %v)", err)
	}

	if err := oci.WriteBundle(t.TempDir(), &specs.Spec{}); err == nil || !strings.Contains(err.Error(), "no root path") {
		t.Errorf("spec without root: err = %v", err)
	}
	escape := &specs.Spec{Root: &specs.Root{Path: "../outside"}}
	if err := oci.WriteBundle(t.TempDir(), escape); err == nil || !strings.Contains(err.Error(), "leaves the bundle") {
		t.Errorf("root path leaving the bundle: err = %v", err)
	}
}

func BenchmarkSpec(b *testing.B) {
	d := webDyno()
	opts := []oci.Opt{
		oci.WithUser(10001, 10001),
		oci.WithAppLayer("/b/app/upper", "/b/app/work"),
		oci.WithCgroupsPath("/dynokit/1a2b3c4d-myapp.web.1.v3.k2j4"),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := oci.Spec(d, opts...); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSpecAndBundle(b *testing.B) {
	d := webDyno()
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		s, err := oci.Spec(d)
		if err != nil {
			b.Fatal(err)
		}
		if err := oci.WriteBundle(dir, s); err != nil {
			b.Fatal(err)
		}
	}
}
