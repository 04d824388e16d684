package nomad_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/nomad"
	"github.com/dynokit/dynokit/router"
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

// Scheduler.Job shows the Nomad job an app's formation becomes: a group
// per process type with its count, Heroku-like restart policy, the slug as
// a checksummed artifact, and web's dynamic port registered as a Nomad
// service with a check.
func ExampleScheduler_Job() {
	s := &nomad.Scheduler{}
	job := s.Job(formation.Deployment{
		App:     "shop",
		Release: 7,
		Slug:    formation.SlugSource{URL: "http://10.0.0.5:8080/slugs/ab12", Digest: "SHA256:ab12"},
		Env:     []string{"RACK_ENV=production"},
		Processes: map[string]formation.ProcessSpec{
			// standard-2X: two CPU shares reserve 2048 MHz.
			"web":    {Command: "bundle exec puma -p $PORT", Quantity: 2, Resources: formation.Resources{MemoryBytes: 1 << 30, CPUShares: 2048}},
			"worker": {Command: "bundle exec sidekiq", Quantity: 1},
		},
		Grace: 10 * time.Second,
	})
	fmt.Println("job", job.ID, job.Type)
	for _, tg := range job.TaskGroups {
		task := tg.Tasks[0]
		fmt.Printf("group %s count=%d restart=%d/%v mode=%s kill=%s after %v\n", tg.Name, tg.Count,
			tg.RestartPolicy.Attempts, tg.RestartPolicy.Interval, tg.RestartPolicy.Mode, task.KillSignal, task.KillTimeout)
		fmt.Printf("  artifact %s %s\n", task.Artifacts[0].GetterSource, task.Artifacts[0].GetterOptions["checksum"])
		fmt.Printf("  env RACK_ENV=%s PORT=%q\n", task.Env["RACK_ENV"], task.Env["PORT"])
		fmt.Printf("  resources cpu=%d MHz memory=%d MB\n", task.Resources.CPU, task.Resources.MemoryMB)
		for _, svc := range tg.Services {
			fmt.Printf("  service %s port=%s provider=%s check=%s\n", svc.Name, svc.PortLabel, svc.Provider, svc.Checks[0].Type)
		}
	}
	// Output:
	// job dynokit-shop service
	// group web count=2 restart=1/20m0s mode=delay kill=SIGTERM after 10s
	//   artifact http://10.0.0.5:8080/slugs/ab12 sha256:ab12
	//   env RACK_ENV=production PORT="${NOMAD_PORT_http}"
	//   resources cpu=2048 MHz memory=1024 MB
	//   service dynokit-shop-web port=http provider=nomad check=tcp
	// group worker count=1 restart=1/20m0s mode=delay kill=SIGTERM after 10s
	//   artifact http://10.0.0.5:8080/slugs/ab12 sha256:ab12
	//   env RACK_ENV=production PORT=""
	//   resources cpu=100 MHz memory=512 MB
}

// FeedRouter keeps a router's table of an app's web dynos equal to the
// healthy registrations of its Nomad service.
func ExampleScheduler_FeedRouter() {
	s := &nomad.Scheduler{Address: "http://127.0.0.1:4646"}
	r := router.New(router.Config{BaseDomain: "localhost"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if err := s.FeedRouter(ctx, r, "shop", time.Second); err != nil {
			log.Print(err)
		}
	}()
	// Serve r; requests for shop.localhost reach the web dynos Nomad runs.
}
