package nomad_test

import (
	"context"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/nomad/nomadtest"
)

// agents is the package's one Nomad dev agent (nomadtest starts it on
// first use; TestMain stops it).
var agents nomadtest.Shared

// testAgent adds the shorthands the tests use to the shared agent.
type testAgent struct {
	*nomadtest.Agent
	addr string
}

// agent returns the shared agent. Without a binary the test is skipped,
// unless DYNOKIT_TEST_REQUIRE=1.
func agent(t testing.TB) *testAgent {
	t.Helper()
	a := agents.Get(t)
	return &testAgent{Agent: a, addr: a.Addr}
}

func (a *testAgent) get(ctx context.Context, path string, out any) error {
	return a.Get(ctx, path, out)
}

// nodeAttr returns an attribute of the agent's client node ("" if unset).
func (a *testAgent) nodeAttr(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := a.NodeAttr(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
