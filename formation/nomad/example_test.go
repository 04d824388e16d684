package nomad_test

import (
	"encoding/json"
	"fmt"
	"log"
	"strings"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/nomad"
)

// Job shows the Nomad job a web dyno becomes: one task group of count 1
// that Nomad never restarts, a raw_exec task running bash, the slug as an
// artifact with its checksum, and the dyno's port reserved on the node.
func ExampleRuntime_Job() {
	rt := &nomad.Runtime{
		SlugURL: func(spec formation.DynoSpec) (string, string, bool) {
			return "http://10.0.0.5:8080/slugs/SHA256:ab12", "sha256:ab12", true
		},
	}
	job := rt.Job(formation.DynoSpec{
		ID:        "myapp.web.1.v3",
		App:       "myapp",
		Name:      "web.1",
		Type:      "web",
		Release:   3,
		Command:   "bundle exec puma -p $PORT",
		Env:       []string{"RACK_ENV=production", "DYNO=web.1"},
		Port:      5000,
		Resources: formation.Resources{MemoryBytes: 512 << 20},
	})
	tg := job.TaskGroups[0]
	task := tg.Tasks[0]
	task.Config["args"] = "[bootstrap script elided]"
	out, err := json.MarshalIndent(struct {
		ID, Type       string
		Count          int
		Restart        *nomad.RestartPolicy
		ReservedPorts  []nomad.Port
		Driver         string
		Config         map[string]any
		Env            map[string]string
		Artifacts      []*nomad.Artifact
		KillSignal     string
		KillTimeoutSec float64
		MemoryMB       int
	}{job.ID, job.Type, tg.Count, tg.RestartPolicy, tg.Networks[0].ReservedPorts, task.Driver, task.Config, task.Env,
		task.Artifacts, task.KillSignal, task.KillTimeout.Seconds(), task.Resources.MemoryMB}, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.ReplaceAll(string(out), "\t", " "))
	// Output:
	// {
	//   "ID": "myapp.web.1.v3",
	//   "Type": "batch",
	//   "Count": 1,
	//   "Restart": {
	//     "Attempts": 0,
	//     "Interval": 86400000000000,
	//     "Delay": 15000000000,
	//     "Mode": "fail"
	//   },
	//   "ReservedPorts": [
	//     {
	//       "Label": "web",
	//       "Value": 5000
	//     }
	//   ],
	//   "Driver": "raw_exec",
	//   "Config": {
	//     "args": "[bootstrap script elided]",
	//     "command": "/bin/bash"
	//   },
	//   "Env": {
	//     "DYNO": "web.1",
	//     "PATH": "/usr/local/bin:/usr/bin:/bin",
	//     "PORT": "5000",
	//     "RACK_ENV": "production"
	//   },
	//   "Artifacts": [
	//     {
	//       "GetterSource": "http://10.0.0.5:8080/slugs/SHA256:ab12",
	//       "GetterOptions": {
	//         "archive": "tar.gz",
	//         "checksum": "sha256:ab12"
	//       },
	//       "RelativeDest": "local/"
	//     }
	//   ],
	//   "KillSignal": "SIGTERM",
	//   "KillTimeoutSec": 30,
	//   "MemoryMB": 512
	// }
}
