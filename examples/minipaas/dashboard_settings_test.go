package main

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/dashboard"
)

// The dashboard's settings go through the API's own code.
var (
	_ dashboard.ACM        = dashboardControl{}
	_ dashboard.Buildpacks = dashboardControl{}
)

// dashPage returns the dashboard's page of app.
func (m *minipaas) dashPage(app string) string {
	m.t.Helper()
	req, err := http.NewRequest("GET", m.apiURL+"/dashboard/apps/"+app, nil)
	if err != nil {
		m.t.Fatal(err)
	}
	req.SetBasicAuth("", m.token)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		m.t.Fatalf("GET the dashboard page of %s: %d %v", app, resp.StatusCode, err)
	}
	return string(b)
}

// apiBuildpacks lists app's buildpacks as heroku buildpacks reads them.
func (m *minipaas) apiBuildpacks(app string) []string {
	m.t.Helper()
	var list []buildpackInstallationJSON
	if code := m.api("GET", "/apps/"+app+"/buildpack-installations", "", &list); code != http.StatusOK {
		m.t.Fatalf("GET buildpack-installations of %s: %d", app, code)
	}
	var out []string
	for i, b := range list {
		if b.Ordinal != i {
			m.t.Errorf("buildpack %d has ordinal %d", i, b.Ordinal)
		}
		out = append(out, b.Buildpack.URL)
	}
	return out
}

// TestDashboardBuildpacks: buildpacks set on the dashboard are the ones
// the API lists, refused with the API's messages.
func TestDashboardBuildpacks(t *testing.T) {
	m := startMinipaas(t)
	const app = "dbps"
	if status := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); status != http.StatusCreated {
		t.Fatalf("create app: %d", status)
	}
	if _, level, text := m.dashSubmit(app, "buildpacks", url.Values{"buildpack": {"heroku/go"}}, nil); level != "ok" || text != "Added heroku/go. The next push of "+app+" builds with 1. heroku/go." {
		t.Errorf("add heroku/go: %s %q", level, text)
	}
	classic := "https://github.com/heroku/heroku-buildpack-nodejs"
	if _, level, text := m.dashSubmit(app, "buildpacks", url.Values{"buildpack": {classic}, "index": {"1"}}, nil); level != "ok" || !strings.Contains(text, "1. "+classic+", 2. heroku/go") {
		t.Errorf("add nodejs at 1: %s %q", level, text)
	}
	want := []string{classic, "heroku/go"}
	if got := m.apiBuildpacks(app); !slices.Equal(got, want) {
		t.Errorf("the API lists %v, want %v", got, want)
	}
	// Set with the API: the dashboard shows the registry URL by its name.
	if code := m.api("PUT", "/apps/"+app+"/buildpack-installations", `{"updates":[{"buildpack":"`+registryBlobURL("heroku/static")+`"},{"buildpack":"heroku/go"}]}`, nil); code != http.StatusOK {
		t.Fatalf("PUT buildpacks: %d", code)
	}
	page := m.dashPage(app)
	first := strings.Index(page, `<td class="name">heroku/static</td>`)
	second := strings.Index(page, `<td class="name">heroku/go</td>`)
	if first < 0 || second < first {
		t.Errorf("the page shows heroku/static at %d, heroku/go at %d", first, second)
	}

	want = []string{registryBlobURL("heroku/static"), "heroku/go"}
	for _, tc := range []struct{ bp, msg string }{
		{"heroku/ruby", "Buildpack heroku/ruby is not available on minipaas, which builds only with its builtin buildpacks: heroku/go, heroku/nodejs, heroku/static, heroku/procfile"},
		{"https://example.com/bp.tgz", "Buildpack https://example.com/bp.tgz is not available on minipaas"},
		{"heroku/go", "heroku/go is already a buildpack of " + app + "."},
		{"go", "buildpack go is listed twice"}, // the platform's rule, the API's message
	} {
		if _, level, text := m.dashSubmit(app, "buildpacks", url.Values{"buildpack": {tc.bp}}, nil); level != "error" || !strings.Contains(text, tc.msg) {
			t.Errorf("add %s: %s %q, want an error with %q", tc.bp, level, text, tc.msg)
		}
		if got := m.apiBuildpacks(app); !slices.Equal(got, want) {
			t.Errorf("add %s changed the buildpacks to %v", tc.bp, got)
		}
	}
	if _, level, text := m.dashSubmit(app, "buildpacks/remove", url.Values{"buildpack": {"heroku/static"}}, nil); level != "ok" || text != "Removed heroku/static. The next push of "+app+" builds with 1. heroku/go." {
		t.Errorf("remove heroku/static by name: %s %q", level, text)
	}
	if got := m.apiBuildpacks(app); !slices.Equal(got, []string{"heroku/go"}) {
		t.Errorf("after the removal the API lists %v", got)
	}
	if _, level, text := m.dashSubmit(app, "buildpacks/clear", nil, nil); level != "ok" || !strings.Contains(text, "no buildpacks set") {
		t.Errorf("clear: %s %q", level, text)
	}
	if got := m.apiBuildpacks(app); len(got) != 0 {
		t.Errorf("after clearing the API lists %v", got)
	}
	if status, _, _ := m.dashSubmit(app, "buildpacks", url.Values{"buildpack": {"heroku/go"}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); status != http.StatusForbidden {
		t.Errorf("cross-origin add: %d, want 403", status)
	}
	if got := m.apiBuildpacks(app); len(got) != 0 {
		t.Errorf("after a cross-origin add the API lists %v", got)
	}
}

// TestDashboardACMNotAvailable: without -acme-directory the page and the
// toggle give the API's explanation and nothing changes.
func TestDashboardACMNotAvailable(t *testing.T) {
	m := startMinipaas(t)
	const app = "dnoacm"
	if status := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); status != http.StatusCreated {
		t.Fatalf("create app: %d", status)
	}
	code, body := m.apiRaw("POST", "/apps/"+app+"/acm", "")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "acm_not_available") {
		t.Fatalf("POST acm: %d %s", code, body)
	}
	// Turning it off is a no-op (heroku certs:auto:disable): it is off.
	if code, body := m.apiRaw("DELETE", "/apps/"+app+"/acm", ""); code != http.StatusOK || !strings.Contains(body, `"acm":false`) {
		t.Errorf("DELETE acm without ACME: %d %s", code, body)
	}
	const explanation = "Automatic Certificate Management needs minipaas started with -https-addr and -acme-directory."
	if !strings.Contains(body, explanation) {
		t.Errorf("the API's explanation is %s", body)
	}
	if page := m.dashPage(app); !strings.Contains(page, `<p id="acm-unavailable" class="none">`+explanation+`</p>`) {
		t.Error("the page does not explain why ACM is unavailable")
	}
	for _, on := range []string{"on", "off", "refresh"} {
		if _, level, text := m.dashSubmit(app, "acm", url.Values{"acm": {on}}, nil); level != "error" || text != explanation {
			t.Errorf("acm %s: %s %q", on, level, text)
		}
	}
	if _, level, text := m.dashSubmit(app, "acm", url.Values{"acm": {"maybe"}}, nil); level != "error" || text != "acm must be on, off or refresh." {
		t.Errorf("acm maybe: %s %q", level, text)
	}
	var info appJSON
	if code := m.api("GET", "/apps/"+app, "", &info); code != http.StatusOK || info.ACM {
		t.Errorf("GET the app: %d, acm %v", code, info.ACM)
	}
	if status, _, _ := m.dashSubmit(app, "acm", url.Values{"acm": {"on"}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); status != http.StatusForbidden {
		t.Errorf("cross-origin acm: %d, want 403", status)
	}
}

// TestDashboardACM: with a real Pebble, ACM turned on on the dashboard is
// the API's (its acm flag), orders the domain's certificate, whose status
// the page shows; turned off, both say so.
func TestDashboardACM(t *testing.T) {
	_, m, _, _, _ := startACMEPebble(t)

	const app, host = "dacm", "www.dacm.test"
	if status := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); status != http.StatusCreated {
		t.Fatalf("create app: %d", status)
	}
	if _, level, text := m.dashSubmit(app, "domains", url.Values{"hostname": {host}}, nil); level != "ok" {
		t.Fatalf("add %s: %s %q", host, level, text)
	}
	page := m.dashPage(app)
	if !strings.Contains(page, `<span id="acm-state">ACM is off.</span>`) || strings.Contains(page, `id="acm-unavailable"`) || strings.Contains(page, `class="acm acm-`) {
		t.Error("with ACM off the page does not say so, or shows a status")
	}
	if status, _, _ := m.dashSubmit(app, "acm", url.Values{"acm": {"on"}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); status != http.StatusForbidden {
		t.Errorf("cross-origin acm: %d, want 403", status)
	}
	var info appJSON
	if m.api("GET", "/apps/"+app, "", &info); info.ACM {
		t.Fatal("a cross-origin POST turned ACM on")
	}

	if _, level, text := m.dashSubmit(app, "acm", url.Values{"acm": {"on"}}, nil); level != "ok" || !strings.HasPrefix(text, "Automatic Certificate Management is on") {
		t.Errorf("acm on: %s %q", level, text)
	}
	if code := m.api("GET", "/apps/"+app, "", &info); code != http.StatusOK || !info.ACM {
		t.Errorf("after turning ACM on on the dashboard: %d, acm %v", code, info.ACM)
	}
	m.acmStatus(app, host, acmIssued)
	page = m.dashPage(app)
	if !strings.Contains(page, `<td class="acm-status"><span class="acm acm-cert-issued">cert issued</span></td>`) || !strings.Contains(page, "ACM is on") {
		t.Errorf("the page does not show %s's certificate as issued", host)
	}
	// Refresh (certs:auto:refresh) is offered while ACM is on.
	if !strings.Contains(page, `<form id="acm-refresh"`) {
		t.Error("with ACM on the page offers no refresh")
	}
	if _, level, text := m.dashSubmit(app, "acm", url.Values{"acm": {"refresh"}}, nil); level != "ok" || !strings.HasPrefix(text, "Refreshing ACM") {
		t.Errorf("acm refresh: %s %q", level, text)
	}
	m.acmStatus(app, host, acmIssued)

	if _, level, text := m.dashSubmit(app, "acm", url.Values{"acm": {"off"}}, nil); level != "ok" || !strings.HasPrefix(text, "Automatic Certificate Management is off") {
		t.Errorf("acm off: %s %q", level, text)
	}
	if m.api("GET", "/apps/"+app, "", &info); info.ACM {
		t.Error("after turning ACM off on the dashboard the API says it is on")
	}
	if page = m.dashPage(app); strings.Contains(page, "cert issued") || strings.Contains(page, `id="acm-refresh"`) {
		t.Error("with ACM off the page still shows a status or offers a refresh")
	}
	// As the API answers certs:auto:refresh with ACM off.
	if _, level, text := m.dashSubmit(app, "acm", url.Values{"acm": {"refresh"}}, nil); level != "error" || text != "Automatic Certificate Management is not enabled on "+app {
		t.Errorf("acm refresh with ACM off: %s %q", level, text)
	}
}
