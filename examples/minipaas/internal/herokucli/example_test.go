package herokucli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
)

// In a test: point the real CLI at a local API and run a command.
func ExampleRequire() {
	var t *testing.T // the test's *testing.T
	cli := herokucli.Require(t, "http://127.0.0.1:5001", "api-key")
	res, err := cli.Run(context.Background(), "apps:info", "-a", "demo")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(res.ExitCode, res.Stdout)
}

// A command that runs until stopped: read `heroku logs --tail` until a
// line shows up.
func ExampleCLI_Start() {
	var t *testing.T // the test's *testing.T
	cli := herokucli.Require(t, "http://127.0.0.1:5001", "api-key")
	tail, err := cli.Start(context.Background(), "logs", "--tail", "-a", "demo")
	if err != nil {
		t.Fatal(err)
	}
	out, ok := tail.WaitOutput(time.Minute, func(out string) bool { return strings.Contains(out, "heroku[router]") })
	tail.Stop()
	fmt.Println(ok, out)
}
