package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestMetricsEndpoint: /metrics on the API listener serves the router's
// metrics in Prometheus's format to holders of the API token.
func TestMetricsEndpoint(t *testing.T) {
	m := startMinipaas(t)
	m.createApp("metered")
	req, err := http.NewRequest("GET", "http://"+m.routerAddr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "metered.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("an app without dynos answered %d, want 503 (H14)", resp.StatusCode)
	}

	if st, hdr, _ := m.rawAPI("GET", "/metrics", "", nil); st != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("GET /metrics without the token: %d %v, want 401 with a challenge", st, hdr)
	}
	if st, _, _ := m.rawAPI("GET", "/metrics", "", map[string]string{"Authorization": "Bearer wrong"}); st != http.StatusUnauthorized {
		t.Errorf("GET /metrics with a wrong token: %d, want 401", st)
	}
	auth := map[string]string{"Authorization": "Bearer " + m.token}
	if st, _, _ := m.rawAPI("POST", "/metrics", "", auth); st != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", st)
	}
	st, hdr, body := m.rawAPI("GET", "/metrics", "", auth)
	if st != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %q", st, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		`dynokit_router_requests_total{app="metered",class="5xx"} 1`,
		`dynokit_router_errors_total{app="metered",code="H14"} 1`,
		`dynokit_router_service_seconds_count{app="metered"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}
