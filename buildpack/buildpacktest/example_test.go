package buildpacktest_test

import (
	"testing"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/buildpacktest"
)

// A platform's own CommandRunner (say, one that runs scripts in a
// container) is checked with the same suite as the local runner.
func ExampleRunnerSuite() {
	_ = func(t *testing.T) {
		buildpacktest.RunnerSuite(t, func() buildpack.CommandRunner { return &buildpack.LocalRunner{} })
	}
}

// A throwaway buildpack for a test.
func ExampleWrite() {
	_ = func(t *testing.T) {
		bp := buildpacktest.Write(t, "hello", buildpacktest.Scripts{
			Detect:  "#!/bin/sh\necho Hello\n",
			Compile: "#!/bin/sh\necho '-----> Saying hello'\n",
		})
		_ = bp // pass to buildpack.BuildInput.Detect or .Buildpacks
	}
}
