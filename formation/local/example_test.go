package local_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/local"
)

// Run one dyno from a slug directory: .profile.d runs first, the command
// sees the dyno environment, and Wait returns its exit status.
func Example() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	slug := filepath.Join(root, "slug")
	_ = os.MkdirAll(filepath.Join(slug, ".profile.d"), 0o755)
	_ = os.WriteFile(filepath.Join(slug, ".profile.d", "greeting.sh"), []byte("export GREETING=hello\n"), 0o644)

	rt := &local.Runtime{BaseDir: filepath.Join(root, "dynos")}
	var out strings.Builder
	d, err := rt.Start(context.Background(), formation.DynoSpec{
		ID: "shop.web.1", App: "shop", Name: "web.1", Type: "web",
		Command: `echo "$GREETING from $DYNO on port $PORT"; exit 3`,
		Env:     []string{"DYNO=web.1", "PORT=5000"},
		SlugDir: slug,
	}, formation.Stdio{Stdout: &out})
	if err != nil {
		fmt.Println(err)
		return
	}
	exit, _ := d.Wait(context.Background())
	fmt.Print(out.String())
	fmt.Println(exit)
	// Output:
	// hello from web.1 on port 5000
	// exited with status 3
}

// Stop sends SIGTERM to every process of the dyno, then SIGKILL after the
// grace period.
func ExampleRuntime_stop() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	slug := filepath.Join(root, "slug")
	_ = os.Mkdir(slug, 0o755)
	rt := &local.Runtime{BaseDir: filepath.Join(root, "dynos")}
	var out formationtest.Buffer
	d, err := rt.Start(context.Background(), formation.DynoSpec{ID: "stubborn", Command: `trap '' TERM; echo ready; sleep 30 & wait`, SlugDir: slug}, formation.Stdio{Stdout: &out})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = out.WaitFor(context.Background(), "ready") // the trap is installed
	exit, err := formation.Stop(context.Background(), d, 200*time.Millisecond)
	fmt.Println(exit.Code, exit.Signal == syscall.SIGKILL, err)
	// Output:
	// 137 true <nil>
}
