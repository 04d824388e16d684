package pebbletest_test

import (
	"testing"

	"github.com/dynokit/dynokit/internal/pebbletest"
)

// A test prepares Pebble first, configures the ACME client under test with
// DirURL and APICAFile (or Client), starts the client's listeners, and
// only then starts Pebble with their ports. It needs a *testing.T, so this
// example is compiled, not run.
func Example() {
	test := func(t *testing.T, httpPort, tlsPort int) {
		p := pebbletest.New(t) // skips the test without the binary
		// ... configure the client: p.DirURL, p.APICAFile ...
		p.Start(t, httpPort, tlsPort)
		// ... TLS requests to the client verify against p.Roots;
		// p.Orders() counts orders sent through p.Client.
	}
	_ = test
}
