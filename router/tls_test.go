package router_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/dynokit/dynokit/router"
)

func selfSigned(t *testing.T, names ...string) (*tls.Certificate, *x509.Certificate) {
	c := testutil.SelfSigned(t, names[0], names, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	return c.TLS, c.Leaf
}

// TestHTTP2OverTLSWithSNI serves two apps over TLS, each with its own
// certificate picked by SNI, and checks clients speak HTTP/2 to the router
// while the dyno gets HTTP/1.1 with X-Forwarded-Proto https.
func TestHTTP2OverTLSWithSNI(t *testing.T) {
	forEachFront(t, func(t *testing.T) {
		sink := newMemSink()
		rt := router.New(router.Config{LogSink: sink})
		seen := make(chan string, 4)
		addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
			seen <- r.Proto + " " + r.Header.Get("X-Forwarded-Proto")
			io.WriteString(w, "secure "+r.Host)
		})
		mustSet(t, rt, "app", addr)
		if err := rt.SetDomains("app", []string{"www.example.test"}); err != nil {
			t.Fatal(err)
		}
		var certs router.CertStore
		appCert, appLeaf := selfSigned(t, "*.localhost")
		wwwCert, wwwLeaf := selfSigned(t, "www.example.test")
		if err := certs.Set("*.localhost", appCert); err != nil {
			t.Fatal(err)
		}
		if err := certs.Set("www.example.test", wwwCert); err != nil {
			t.Fatal(err)
		}
		if err := certs.Set("bad name!", wwwCert); err == nil {
			t.Error("CertStore.Set accepted an invalid domain")
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		tln, _ := net.Listen("tcp", "127.0.0.1:0")
		srv := &router.Server{NetHTTP: netHTTP(t), Router: rt, Listener: ln, TLSListener: tln, GetCertificate: certs.GetCertificate}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()

		for _, tc := range []struct {
			host string
			leaf *x509.Certificate
		}{{"app.localhost", appLeaf}, {"www.example.test", wwwLeaf}} {
			pool := x509.NewCertPool()
			pool.AddCert(tc.leaf)
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: tc.host},
				ForceAttemptHTTP2: true,
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, tln.Addr().String())
				},
			}
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			resp, err := c.Get("https://" + tc.host + "/")
			if err != nil {
				t.Fatalf("%s: %v", tc.host, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tr.CloseIdleConnections()
			if resp.ProtoMajor != 2 || string(body) != "secure "+tc.host {
				t.Errorf("%s: %s %q, want HTTP/2 and the dyno's body", tc.host, resp.Proto, body)
			}
			if s := <-seen; s != "HTTP/1.1 https" {
				t.Errorf("dyno saw %q, want HTTP/1.1 https", s)
			}
		}
		if l := sink.waitLine(t, 2); !regexpMatch(`protocol=https$`, l) {
			t.Errorf("log line %s, want protocol=https", l)
		}
		if _, err := certs.GetCertificate(&tls.ClientHelloInfo{ServerName: "unknown.test"}); err == nil {
			t.Error("GetCertificate served an unknown name")
		}
	})
}
