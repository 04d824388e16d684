package nomad_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/nomad"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestJobGolden(t *testing.T) {
	spec := formation.DynoSpec{
		ID:        "myapp.web.1.v3",
		App:       "myapp",
		Name:      "web.1",
		Type:      "web",
		Release:   3,
		Command:   "bundle exec puma -p $PORT",
		Env:       []string{"RACK_ENV=production", "PORT=1", "DYNO=web.1"},
		SlugDir:   "/var/lib/dynokit/slugs/myapp-v3",
		Port:      5000,
		Resources: formation.Resources{MemoryBytes: 300<<20 + 1, CPUShares: 2048},
	}
	for _, c := range []struct {
		name string
		rt   *nomad.Runtime
	}{
		{"job-slugdir", &nomad.Runtime{Datacenters: []string{"dc1"}, KillTimeout: 10 * time.Second}},
		{"job-artifact", &nomad.Runtime{Namespace: "apps", SlugURL: func(s formation.DynoSpec) (string, string, bool) {
			return "http://slugs.internal/slugs/SHA256:0123", "sha256:0123", true
		}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := json.MarshalIndent(c.rt.Job(spec), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", c.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("job differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

// The job's env: later DynoSpec.Env entries win, DynoSpec.Port is PORT.
func TestJobEnv(t *testing.T) {
	job := (&nomad.Runtime{}).Job(formation.DynoSpec{ID: "a.web.1", Name: "web.1", Command: "x",
		Env: []string{"FOO=1", "FOO=2", "PORT=9", "EMPTY=", "PATH=/opt/bin"}, Port: 7000})
	env := job.TaskGroups[0].Tasks[0].Env
	want := map[string]string{"FOO": "2", "PORT": "7000", "EMPTY": "", "PATH": "/opt/bin"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env[%s] = %q, want %q (env %v)", k, env[k], v, env)
		}
	}
	if n := len(job.TaskGroups[0].Networks); n != 0 && job.TaskGroups[0].Networks[0].ReservedPorts[0].Value != 7000 {
		t.Errorf("reserved port = %+v", job.TaskGroups[0].Networks)
	}
	if got := job.TaskGroups[0].Tasks[0].Config["args"].([]string); !strings.Contains(got[1], ".profile.d") {
		t.Errorf("bootstrap does not source .profile.d: %q", got[1])
	}
}

// The bootstrap runs the command as a job so that it gets a process group of
// its own. When the command ends while bash still has job control on, bash
// reports "[1]+ Done ..." on its stderr; that must not reach the dyno's log.
// The test runs the bootstrap with bash directly and widens that window with
// a command substitution (which makes bash reap and report finished jobs)
// right after the command starts.
func TestBootstrapKeepsJobReportsOutOfTheLog(t *testing.T) {
	slugDir := t.TempDir()
	job := (&nomad.Runtime{}).Job(formation.DynoSpec{ID: "a.web.1", Name: "web.1",
		Command: "echo to-stdout; echo to-stderr >&2", SlugDir: slugDir})
	args := job.TaskGroups[0].Tasks[0].Config["args"].([]string)
	// Undo the escaping of Nomad's interpolation that Nomad would undo.
	for i, a := range args {
		args[i] = strings.NewReplacer("$${", "${", "%%{", "%{").Replace(a)
	}
	const started = "__dynokit_pid=$!\n"
	if !strings.Contains(args[1], started) {
		t.Fatalf("bootstrap no longer has %q; update this test", started)
	}
	args[1] = strings.Replace(args[1], started, started+": $(sleep 0.2)\n", 1)

	taskDir := t.TempDir()
	cmd := exec.Command("bash", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NOMAD_TASK_DIR=" + taskDir, "NOMAD_ALLOC_DIR=" + taskDir}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bootstrap: %v (stderr %q)", err, stderr.String())
	}
	if stdout.String() != "to-stdout\n" || stderr.String() != "to-stderr\n" {
		t.Errorf("stdout = %q, stderr = %q; want only the command's own lines", stdout.String(), stderr.String())
	}
}
