package herokucli_test

import (
	"context"
	"fmt"
	"testing"

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
