package oci_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/oci"
)

// Spec turns a dyno into an OCI runtime spec; opts adjust the defaults,
// and WriteBundle would write it as config.json for runc or crun.
func ExampleSpec() {
	dyno := formation.DynoSpec{
		ID:        "myapp.web.1.v3",
		App:       "myapp",
		Name:      "web.1",
		Type:      "web",
		Release:   3,
		Command:   "bundle exec puma -p $PORT",
		Env:       []string{"RACK_ENV=production"},
		SlugDir:   "/var/lib/dynokit/slugs/myapp-v3",
		Port:      5000,
		Resources: formation.Resources{MemoryBytes: 512 << 20, PIDs: 256, CPUShares: formation.CPUShareUnit}, // standard-1X
	}
	s, err := oci.Spec(dyno,
		oci.WithUser(10001, 10001),
		oci.WithAppLayer("/var/lib/dynokit/oci/bundles/myapp.web.1.v3/app/upper",
			"/var/lib/dynokit/oci/bundles/myapp.web.1.v3/app/work"),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ociVersion:", s.Version)
	fmt.Println("user:", s.Process.User.UID, s.Process.User.GID)
	fmt.Println("env:", strings.Join(s.Process.Env, " "))
	fmt.Println("command:", s.Process.Args[len(s.Process.Args)-1])
	for _, m := range s.Mounts {
		if m.Destination == "/app" || m.Destination == "/usr" {
			fmt.Println("mount:", m.Destination, m.Type, m.Options[0])
		}
	}
	fmt.Println("memory:", *s.Linux.Resources.Memory.Limit, "pids:", *s.Linux.Resources.Pids.Limit, "cpu shares:", *s.Linux.Resources.CPU.Shares)
	// Output:
	// ociVersion: 1.0.2-dev
	// user: 10001 10001
	// env: PATH=/usr/local/bin:/usr/bin:/bin HOME=/app RACK_ENV=production PORT=5000 DYNO=web.1
	// command: bundle exec puma -p $PORT
	// mount: /usr bind rbind
	// mount: /app overlay lowerdir=/var/lib/dynokit/slugs/myapp-v3
	// memory: 536870912 pids: 256 cpu shares: 1024
}
