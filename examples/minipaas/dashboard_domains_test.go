package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// dashPost posts a dashboard form to path as the dashboard's own page
// would (hdr may say otherwise) and, on a 303, returns where it went and
// the flash message that page shows.
func (m *minipaas) dashPost(path string, form url.Values, hdr map[string]string) (status int, loc, level, text string) {
	m.t.Helper()
	client := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("POST", m.apiURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		m.t.Fatal(err)
	}
	req.SetBasicAuth("", m.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", m.apiURL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return resp.StatusCode, "", "", ""
	}
	loc = resp.Header.Get("Location")
	req, err = http.NewRequest("GET", m.apiURL+loc, nil)
	if err != nil {
		m.t.Fatal(err)
	}
	req.SetBasicAuth("", m.token)
	resp, err = client.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		m.t.Fatal(err)
	}
	match := dashFlash.FindStringSubmatch(string(page))
	if resp.StatusCode != 200 || match == nil {
		m.t.Fatalf("after POST %s: GET %s: %d, flash %q", path, loc, resp.StatusCode, match)
	}
	return http.StatusSeeOther, loc, match[1], html.UnescapeString(match[2])
}

// customDomains lists app's custom domains as the API does.
func (m *minipaas) customDomains(app string) []string {
	m.t.Helper()
	var ds []struct{ Hostname, Kind string }
	if code := m.api("GET", "/apps/"+app+"/domains", "", &ds); code != http.StatusOK {
		m.t.Fatalf("GET domains of %s: %d", app, code)
	}
	var out []string
	for _, d := range ds {
		if d.Kind == "custom" {
			out = append(out, d.Hostname)
		}
	}
	return out
}

// TestDashboardAppLifecycle: an app created, given domains and destroyed
// on the dashboard is what the API sees, and the dashboard's destroy is
// the API's: the app's drains and pipeline coupling go with it.
func TestDashboardAppLifecycle(t *testing.T) {
	m := startMinipaas(t)
	ctx := context.Background()
	const app = "ddom"

	// Create: the API's messages, the API's app.
	if status, loc, level, text := m.dashPost("/dashboard/apps", url.Values{"name": {app}}, nil); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/apps/"+app+"?") || level != "ok" {
		t.Fatalf("create on the dashboard: %d to %q, %s %q", status, loc, level, text)
	}
	var created struct{ ID, Name string }
	if code := m.api("GET", "/apps/"+app, "", &created); code != http.StatusOK || created.Name != app {
		t.Fatalf("GET the app created on the dashboard: %d %+v", code, created)
	}
	if _, loc, level, text := m.dashPost("/dashboard/apps", url.Values{"name": {app}}, nil); !strings.HasPrefix(loc, "/dashboard/?") || level != "error" || text != "Name "+app+" is already taken" {
		t.Errorf("create a taken name: to %q, %s %q", loc, level, text)
	}

	// Domains: added and removed on the dashboard, listed by the API; an
	// invalid host name gets the API's message.
	if _, _, level, text := m.dashPost("/dashboard/apps/"+app+"/domains", url.Values{"hostname": {"www.ddom.example"}}, nil); level != "ok" || !strings.HasPrefix(text, "Added www.ddom.example") {
		t.Errorf("add a domain: %s %q", level, text)
	}
	if ds := m.customDomains(app); !slices.Equal(ds, []string{"www.ddom.example"}) {
		t.Errorf("the API lists %v after the dashboard added www.ddom.example", ds)
	}
	if _, _, level, text := m.dashPost("/dashboard/apps/"+app+"/domains", url.Values{"hostname": {"bad_host.example"}}, nil); level != "error" || !strings.Contains(text, `domain "bad_host.example" is invalid: must be a host name`) {
		t.Errorf("add an invalid domain: %s %q", level, text)
	}
	// Another app's host is no custom domain (it would take that app's
	// traffic): refused on the dashboard and by the API alike.
	if _, _, level, text := m.dashPost("/dashboard/apps/"+app+"/domains", url.Values{"hostname": {"other.localhost"}}, nil); level != "error" || !strings.Contains(text, `domain "other.localhost" is reserved`) {
		t.Errorf("add another app's host on the dashboard: %s %q", level, text)
	}
	if code := m.api("POST", "/apps/"+app+"/domains", `{"hostname":"other.localhost"}`, nil); code != http.StatusUnprocessableEntity {
		t.Errorf("POST domains other.localhost: %d, want 422", code)
	}
	if status, _, _, _ := m.dashPost("/dashboard/apps/"+app+"/domains", url.Values{"hostname": {"evil.example"}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); status != http.StatusForbidden {
		t.Errorf("cross-origin domain add: %d, want 403", status)
	}
	if _, _, level, text := m.dashPost("/dashboard/apps/"+app+"/domains/remove", url.Values{"hostname": {"www.ddom.example"}}, nil); level != "ok" || text != "Removed www.ddom.example." {
		t.Errorf("remove the domain: %s %q", level, text)
	}
	if ds := m.customDomains(app); len(ds) != 0 {
		t.Errorf("the API lists %v after the dashboard removed the only domain", ds)
	}
	if _, _, level, _ := m.dashPost("/dashboard/apps/"+app+"/domains", url.Values{"hostname": {"shop.ddom.example"}}, nil); level != "ok" {
		t.Errorf("add shop.ddom.example: %s", level)
	}

	// What destroying must take along: a log drain and a pipeline coupling.
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	var drain struct{ ID string }
	if code := m.api("POST", "/apps/"+app+"/log-drains", `{"url":"`+sink.URL+`/logs"}`, &drain); code != http.StatusCreated {
		t.Fatalf("add a drain: %d", code)
	}
	var pipe struct{ ID string }
	if code := m.api("POST", "/pipelines", `{"name":"ddom-pipe","owner":{"id":"`+accountID+`","type":"user"}}`, &pipe); code != http.StatusCreated {
		t.Fatalf("create a pipeline: %d", code)
	}
	if code := m.api("POST", "/pipeline-couplings", `{"app":"`+app+`","pipeline":"`+pipe.ID+`","stage":"staging"}`, nil); code != http.StatusCreated {
		t.Fatalf("couple the app: %d", code)
	}
	records := func(kind platform.RecordKind) map[string][]byte {
		recs, err := m.p.Records(ctx, kind)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	coupled := func() bool {
		var rec pipelineRecord
		if err := json.Unmarshal(records(platform.PipelineRecords)[pipe.ID], &rec); err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(rec.Couplings, func(c couplingRecord) bool { return c.AppID == created.ID })
	}
	if _, ok := records(platform.LogDrainRecords)[drain.ID]; !ok || !coupled() {
		t.Fatalf("before the destroy: drain record %v, coupled %v", ok, coupled())
	}

	// A wrong confirmation, or another site's form, destroys nothing.
	if _, loc, level, text := m.dashPost("/dashboard/apps/"+app+"/destroy", url.Values{"confirm": {"ddo"}}, nil); !strings.HasPrefix(loc, "/dashboard/apps/"+app+"?") || level != "error" || !strings.Contains(text, "Nothing was destroyed") {
		t.Errorf("destroy with a wrong confirmation: to %q, %s %q", loc, level, text)
	}
	if status, _, _, _ := m.dashPost("/dashboard/apps/"+app+"/destroy", url.Values{"confirm": {app}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); status != http.StatusForbidden {
		t.Errorf("cross-origin destroy: %d, want 403", status)
	}
	if code := m.api("GET", "/apps/"+app, "", nil); code != http.StatusOK || len(m.drains(app)) != 1 || !coupled() {
		t.Fatalf("after the refused destroys: GET the app %d, drains %d, coupled %v", code, len(m.drains(app)), coupled())
	}

	// The right one destroys the app with its domains, drain and coupling.
	if _, loc, level, text := m.dashPost("/dashboard/apps/"+app+"/destroy", url.Values{"confirm": {app}}, nil); !strings.HasPrefix(loc, "/dashboard/?") || level != "ok" || text != "Destroyed "+app+"." {
		t.Fatalf("destroy: to %q, %s %q", loc, level, text)
	}
	if code := m.api("GET", "/apps/"+app, "", nil); code != http.StatusNotFound {
		t.Errorf("GET the destroyed app: %d, want 404", code)
	}
	if _, ok := records(platform.LogDrainRecords)[drain.ID]; ok {
		t.Error("the destroyed app's drain record is left")
	}
	if coupled() {
		t.Error("the destroyed app's pipeline coupling is left")
	}
	// A new app of the same name starts with no drains, and the old one's
	// domain is free.
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create %s again: %d", app, code)
	}
	if ds := m.drains(app); len(ds) != 0 {
		t.Errorf("the new %s has the old one's drains: %+v", app, ds)
	}
	if code := m.api("POST", "/apps/"+app+"/domains", `{"hostname":"shop.ddom.example"}`, nil); code != http.StatusCreated {
		t.Errorf("add the destroyed app's domain to the new one: %d", code)
	}
}
