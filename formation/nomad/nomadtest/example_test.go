package nomadtest_test

import (
	"context"
	"fmt"
	"log"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/nomad/nomadtest"
)

// agents is the test binary's one dev agent.
var agents nomadtest.Shared

// Start runs an agent for as long as the caller needs it; tests usually
// share one through Shared instead.
func ExampleStart() {
	bin, err := nomadtest.Binary()
	if err != nil {
		log.Print(err) // errors.Is(err, errors.ErrUnsupported): skip
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := nomadtest.Start(ctx, bin)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Stop()
	fmt.Println("Nomad API at", a.Addr)
}

func TestAgent(t *testing.T) {
	a := agents.Get(t)
	defer agents.Stop()
	ctx := context.Background()
	var leader string
	if err := a.Get(ctx, "/v1/status/leader", &leader); err != nil || leader == "" {
		t.Fatalf("leader: %q, %v", leader, err)
	}
	if v, err := a.NodeAttr(ctx, "driver.raw_exec"); err != nil || v != "1" {
		t.Errorf("driver.raw_exec = %q, %v; want 1", v, err)
	}
	if err := a.Get(ctx, "/v1/job/none", nil); err == nil {
		t.Error("GET of a missing job succeeded")
	}
	if err := a.Call(ctx, "POST", "/v1/jobs"); err == nil {
		t.Error("registering nothing succeeded")
	}
}
