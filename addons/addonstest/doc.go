// Package addonstest holds the conformance suite every addons.Provider
// passes, and in-memory implementations of addons.Provider and
// addons.ConfigApplier for callers' unit tests.
//
// A provider's test runs the suite against a real backend:
//
//	addonstest.Suite{Provider: p, Prefix: "DATABASE", Plans: []string{"hobby", "standard"},
//		Usable: connectAndWrite, Gone: loginFails}.Run(t)
//
// The suite carries kensa's checks (the Heroku add-on partner test
// tool): provisioning twice with one request id returns one resource
// (also when the two calls race), config var names carry the service's
// prefix and pass heroku.md §9.7, two resources never share credentials,
// unknown plans give ErrUnknownPlan, deprovisioning an unknown or already
// deprovisioned id gives ErrNotFound, and a plan change keeps the
// resource, its config var names and its data. A provider that is an
// addons.Describer must return named facts (no name empty or repeated)
// and ErrNotFound for unknown and deprovisioned ids.
package addonstest
