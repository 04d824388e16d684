// Package buildpacktest helps test code that runs classic buildpacks.
//
// Write creates a scripted buildpack in a temporary directory and Copy
// copies one kept under testdata/ (making bin/* executable whatever modes
// the checkout kept). RunnerSuite checks that a buildpack.CommandRunner
// keeps the contract buildpack.Builder relies on: exit codes returned, not
// errors; exactly the given environment and working directory; output
// delivered; and on cancellation the command and everything it started
// killed promptly, even when a background process holds the output open.
// A platform that runs compile in a container checks its runner with the
// same suite as the local one.
package buildpacktest
