// Package pebbletest runs a real Pebble ACME server (Let's Encrypt's test
// CA) on loopback for the tests of ACME clients: the router's ACME and
// minipaas's automated certificate management.
//
// Vocabulary: the directory URL is the ACME entry point clients are
// configured with; Pebble's API is served over HTTPS with a certificate
// signed by a throw-away CA ([Server.APICAFile], [Server.APIRoots]) that
// clients must trust; certificates Pebble issues chain to a root it makes
// anew on every run ([Server.Roots]). Pebble's validation authority (VA)
// resolves every name through a DNS server this package runs, which
// answers 127.0.0.1 for every A question, and connects to the HTTP-01 and
// TLS-ALPN-01 ports given to [Server.Start] (so a router under test must
// listen there on 127.0.0.1).
//
// Lifecycle: [New] finds the binary (env DYNOKIT_PEBBLE, else
// ~/.cache/dynokit/pebble-v2.10.1/pebble as scripts/install-pebble builds
// it; the test is skipped when it is missing, or fails when
// DYNOKIT_TEST_REQUIRE=1), picks Pebble's addresses and writes its API
// certificate, so the directory URL is known before Pebble runs. [Server.Start]
// then runs Pebble with the challenge ports (which may be known only once
// the client under test is listening) and waits until it answers; the
// test's cleanup kills it (and the kernel does, should the test binary
// die). Every order must prove control anew (no authorization reuse), and
// nonces are never rejected at random, so order counts are exact.
//
// What is left: DNS-01 (the DNS server answers A questions only), and
// Pebble's revocation and OCSP (disabled).
package pebbletest
