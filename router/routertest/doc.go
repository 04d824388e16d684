// Package routertest holds conformance suites for router interfaces with
// several implementations, in the spirit of testing/fstest: an
// implementation's own tests call TestBalancer with a constructor.
package routertest
