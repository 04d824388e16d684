package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/dynokit/dynokit/internal/testutil"
)

// Server is a Pebble prepared by [New] and run by [Server.Start].
type Server struct {
	// DirURL is the ACME directory URL.
	DirURL string
	// APICAFile is a PEM file holding the CA of Pebble's own HTTPS
	// certificate; APIRoots holds the same CA.
	APICAFile string
	APIRoots  *x509.CertPool
	// Client trusts APIRoots and counts the new orders it sends (Orders).
	Client *http.Client
	// Roots holds the root that issued certificates chain to; set by Start.
	Roots *x509.CertPool

	bin, dir     string
	listen, mgmt string
	started      bool
	orders       atomic.Int64
}

// Binary returns the Pebble binary's path, or skips t (fails it when
// DYNOKIT_TEST_REQUIRE=1) when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("DYNOKIT_PEBBLE")
	if p == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			p = filepath.Join(dir, "dynokit", "pebble-v2.10.1", "pebble")
		}
	}
	if p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no Pebble binary (%q); run: export DYNOKIT_PEBBLE=\"$(scripts/install-pebble)\"", p)
	if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// New prepares a Pebble: it finds the binary (see [Binary]), picks free
// loopback ports for the ACME and management APIs and writes the API
// certificate. Nothing runs until Start.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), dir: t.TempDir()}
	s.APIRoots = writeAPICert(t, s.dir)
	s.APICAFile = filepath.Join(s.dir, "cert.pem")
	s.listen, s.mgmt = freeAddr(t), freeAddr(t)
	s.DirURL = "https://" + s.listen + "/dir"
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.APIRoots, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	s.Client = &http.Client{Timeout: 20 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			s.orders.Add(1)
		}
		return tr.RoundTrip(r)
	})}
	return s
}

// Orders returns how many new orders went through Client.
func (s *Server) Orders() int64 { return s.orders.Load() }

// Start runs Pebble, validating HTTP-01 on httpPort and TLS-ALPN-01 on
// tlsPort of 127.0.0.1, and returns once its APIs answer (with Roots set).
func (s *Server) Start(t testing.TB, httpPort, tlsPort int) {
	t.Helper()
	if s.started {
		t.Fatal("pebbletest: Start called twice")
	}
	s.started = true
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           s.listen,
		"managementListenAddress": s.mgmt,
		"certificate":             filepath.Join(s.dir, "cert.pem"),
		"privateKey":              filepath.Join(s.dir, "key.pem"),
		"httpPort":                httpPort,
		"tlsPort":                 tlsPort,
		"ocspResponderURL":        "",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":            "ecdsa",
		"profiles": map[string]any{
			"default": map[string]any{"description": "test", "validityPeriod": 7776000},
		},
	}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(s.dir, "pebble.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dnsAddr := startDNS(t)

	var out testutil.SyncBuffer
	cmd := exec.Command(s.bin, "-config", cfgPath, "-dnsserver", dnsAddr)
	cmd.Env = append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1",
		"PEBBLE_VA_ALWAYS_VALID=0",
		"PEBBLE_WFE_NONCEREJECT=0", // default rejects 5% of nonces at random
		"PEBBLE_AUTHZREUSE=0",      // every order must prove control anew
	)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	proc, err := testutil.Start(cmd)
	if err != nil {
		t.Fatalf("pebbletest: start pebble: %v", err)
	}
	t.Cleanup(func() {
		proc.Stop(os.Kill, time.Second)
		if t.Failed() {
			t.Logf("pebble output:\n%s", out.String())
		}
	})

	// Wait for both interfaces, then fetch the root issued certificates
	// chain to.
	deadline := time.Now().Add(15 * time.Second)
	var rootPEM []byte
	for {
		if rootPEM, err = s.get("https://" + s.mgmt + "/roots/0"); err == nil {
			_, err = s.get(s.DirURL)
		}
		if err == nil {
			break
		}
		select {
		case <-proc.Exited():
			t.Fatalf("pebbletest: pebble exited early:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebbletest: pebble not up: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Roots = x509.NewCertPool()
	if !s.Roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("pebbletest: pebble root is not PEM: %q", rootPEM)
	}
}

func (s *Server) get(url string) ([]byte, error) {
	resp, err := s.Client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// writeAPICert writes a certificate for Pebble's own HTTPS API (cert.pem,
// key.pem in dir). It is its own CA (so cert.pem is what clients trust),
// returned as a pool.
func writeAPICert(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	c := testutil.SelfSigned(t, "pebble api", []string{"localhost", "127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Leaf)
	return pool
}

// freeAddr is a 127.0.0.1 address that was free a moment ago, for Pebble's
// configuration file.
func freeAddr(t testing.TB) string {
	t.Helper()
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// startDNS runs a DNS server over TCP (Pebble's VA queries its -dnsserver
// over TCP) answering every A question with 127.0.0.1 and every other
// question with no records.
func startDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testutil.ServeConns(t, ln, serveDNS)
	return ln.Addr().String()
}

// serveDNS answers length-prefixed DNS messages (RFC 1035 §4.2.2) on c.
func serveDNS(c net.Conn) {
	for {
		if c.SetDeadline(time.Now().Add(10*time.Second)) != nil {
			return
		}
		var n uint16
		if binary.Read(c, binary.BigEndian, &n) != nil {
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		var q dnsmessage.Message
		if q.Unpack(msg) != nil || len(q.Questions) != 1 {
			return
		}
		resp := dnsmessage.Message{
			Header:    dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true, RecursionDesired: q.RecursionDesired, RecursionAvailable: true},
			Questions: q.Questions,
		}
		if qq := q.Questions[0]; qq.Type == dnsmessage.TypeA {
			resp.Answers = []dnsmessage.Resource{{
				Header: dnsmessage.ResourceHeader{Name: qq.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 0},
				Body:   &dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}},
			}}
		}
		out, err := resp.Pack()
		if err != nil {
			return
		}
		if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(out)))); err != nil {
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
