package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
)

// TestAuthorizations: tokens made with heroku authorizations:create work
// wherever the platform's token does (API, git, dashboard, metrics) until
// rotated, revoked or expired, survive a restart, and are not kept in the
// clear.
func TestAuthorizations(t *testing.T) {
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	m := startMinipaasWith(t, dataDir, token)
	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)
	heroku("apps:create", "tokens")
	// What minipaas does not have is reported as none, not as an unknown
	// endpoint.
	expectIn(t, heroku("sessions"), "No OAuth sessions")
	expectIn(t, heroku("clients"), "No OAuth clients")
	m.expectError("POST", "/oauth/clients", `{"name":"x","redirect_uri":"https://x.example/cb"}`, 422, "invalid_params")
	expectIn(t, heroku("keys"), "You have no SSH keys")
	expectIn(t, heroku("usage:addons", "-a", "tokens"), "No usage found for app tokens")
	expectIn(t, heroku("telemetry", "-a", "tokens"), "There are no telemetry drains in tokens")
	expectIn(t, heroku("certs:auto:disable", "--confirm", "tokens", "-a", "tokens"), "Disabling Automatic Certificate Management")
	m.expectError("DELETE", "/oauth/sessions/01234567-89ab-cdef-0123-456789abcdef", "", 404, "not_found")
	m.expectError("POST", "/account/keys", `{"public_key":"ssh-ed25519 AAAA"}`, 422, "invalid_params")

	tokenPattern := regexp.MustCompile(`HRKU-[0-9a-f]{64}`)
	out := heroku("authorizations:create", "-d", "CI deploys", "--short")
	ciToken := tokenPattern.FindString(out)
	if ciToken == "" {
		t.Fatalf("authorizations:create --short printed no token: %q", out)
	}
	out = heroku("authorizations")
	expectIn(t, out, "CI deploys", "global")
	id := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`).FindString(out)
	if id == "" {
		t.Fatalf("no authorization id in:\n%s", out)
	}
	if strings.Contains(heroku("authorizations:info", id), ciToken) {
		t.Error("authorizations:info shows the token again; only its hash is kept")
	}

	works := func(tok string) bool {
		t.Helper()
		ciCLI := *cli
		ciCLI.APIKey = tok
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := ciCLI.Run(ctx, "apps:info", "-a", "tokens")
		apiOK := err == nil && res.ExitCode == 0
		// What git push asks first, with the token as basic auth password.
		req, _ := http.NewRequest("GET", m.apiURL+"/tokens.git/info/refs?service=git-receive-pack", nil)
		req.SetBasicAuth("", tok)
		resp, err := http.DefaultClient.Do(req)
		gitOK := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			resp.Body.Close()
		}
		dashOK, metricsOK := m.getWith(tok, "/dashboard/") == http.StatusOK, m.getWith(tok, "/metrics") == http.StatusOK
		if apiOK != gitOK || apiOK != dashOK || apiOK != metricsOK {
			t.Errorf("token accepted unevenly: API %v, git %v, dashboard %v, metrics %v", apiOK, gitOK, dashOK, metricsOK)
		}
		return apiOK
	}
	if !works(ciToken) {
		t.Fatal("a new authorization's token is refused")
	}
	if works("HRKU-" + strings.Repeat("0", 64)) {
		t.Fatal("a made-up token is accepted")
	}

	// Kept across a restart, as a hash only.
	m.stop()
	raw, err := os.ReadFile(filepath.Join(dataDir, "platform.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(ciToken)) || bytes.Contains(raw, []byte(strings.TrimPrefix(ciToken, "HRKU-"))) {
		t.Error("platform.db holds the token in the clear")
	}
	m = startMinipaasWith(t, dataDir, token)
	cli = herokucli.Require(t, m.apiURL, m.token)
	heroku = herokuFunc(t, cli)
	if !works(ciToken) {
		t.Fatal("the token is refused after a restart")
	}

	// Rotate: a new token, the old one refused; revoke: refused.
	rotated := tokenPattern.FindString(heroku("authorizations:rotate", id))
	if rotated == "" || rotated == ciToken || works(ciToken) || !works(rotated) {
		t.Fatalf("after rotation: new token %q, old refused and new accepted?", rotated)
	}
	heroku("authorizations:update", id, "-d", "CI (rotated)")
	expectIn(t, heroku("authorizations"), "CI (rotated)")
	heroku("authorizations:revoke", id)
	if works(rotated) {
		t.Error("a revoked token is accepted")
	}

	// Expiry, and what is refused.
	short := tokenPattern.FindString(heroku("authorizations:create", "-d", "brief", "-e", "1", "--short"))
	time.Sleep(1500 * time.Millisecond)
	if works(short) {
		t.Error("an expired token is accepted")
	}
	if strings.Contains(heroku("authorizations"), "brief") {
		t.Error("an expired authorization is listed")
	}
	m.expectError("POST", "/oauth/authorizations", `{"description":"x","scope":["read"]}`, 422, "invalid_params")
	m.expectError("POST", "/oauth/authorizations", `{"description":"x","expires_in":"soon"}`, 422, "invalid_params")
	m.expectError("DELETE", "/oauth/authorizations/"+id, "", 404, "not_found")
}

// getWith GETs path on the API listener with tok as a bearer token and
// returns the status.
func (m *minipaas) getWith(tok, path string) int {
	m.t.Helper()
	req, err := http.NewRequest("GET", m.apiURL+path, nil)
	if err != nil {
		m.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
