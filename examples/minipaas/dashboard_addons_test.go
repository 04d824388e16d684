package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/examples/minipaas/internal/dashboard"
)

// The dashboard's add-ons and drains go through the API's own code.
var (
	_ dashboard.Addons       = dashboardControl{}
	_ dashboard.AddonChanges = dashboardControl{}
	_ dashboard.Drains       = dashboardControl{}
	_ dashboard.Backups      = dashboardControl{}
)

var crossSite = map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}

// TestDashboardAddons: an add-on provisioned on the dashboard is the
// API's, with its config var and release; one destroyed there is gone with
// its config var; what breaks a rule changes nothing. Redis is the add-on
// server the tests start cheaply.
func TestDashboardAddons(t *testing.T) {
	redisAdmin := startRedis(t)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	m := startMinipaasWith(t, filepath.Join(t.TempDir(), "data"), token, "-redis-url", redisAdmin)
	const app = "daddons"
	if status := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); status != http.StatusCreated {
		t.Fatalf("create app: %d", status)
	}
	page := m.dashPage(app)
	for _, want := range []string{`<p id="no-addons" class="none">`, `<optgroup label="heroku-redis"><option value="heroku-redis:mini">`, `<option value="heroku-redis:premium-0">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, `value="heroku-postgresql:`) {
		t.Error("the page offers heroku-postgresql, which this minipaas has no server for")
	}

	unchanged := func(what string) {
		t.Helper()
		if list := m.listAddons(app); len(list) != 0 {
			t.Errorf("%s: the API lists add-ons %+v", what, list)
		}
		if cfg := m.config(app); len(cfg) != 0 {
			t.Errorf("%s: config vars %v", what, keys(cfg))
		}
	}
	// Refused with the API's messages.
	for _, tc := range []struct{ plan, msg string }{
		{"", "The plan is required"},
		{"heroku-postgresql:essential-0", "this minipaas has no PostgreSQL server configured (start it with -postgres-url)"},
		{"heroku-redis:huge", `Couldn't find plan "heroku-redis:huge" of heroku-redis; plans: heroku-redis:mini, heroku-redis:premium-0`},
		{"nosuch", `Couldn't find add-on service "nosuch"; offered: heroku-redis`},
	} {
		if _, level, text := m.dashSubmit(app, "addons", url.Values{"plan": {tc.plan}}, nil); level != "error" || !strings.Contains(text, tc.msg) {
			t.Errorf("plan %q: %s %q, want an error with %q", tc.plan, level, text, tc.msg)
		}
		unchanged("plan " + tc.plan)
	}
	if status, _, _ := m.dashSubmit(app, "addons", url.Values{"plan": {"heroku-redis:mini"}}, crossSite); status != http.StatusForbidden {
		t.Errorf("cross-origin create: %d, want 403", status)
	}
	unchanged("a cross-origin create")

	releases := len(m.releases(app))
	_, level, text := m.dashSubmit(app, "addons", url.Values{"plan": {"heroku-redis:mini"}}, nil)
	if level != "ok" {
		t.Fatalf("create heroku-redis:mini: %s %q", level, text)
	}
	list := m.listAddons(app)
	if len(list) != 1 || list[0].Plan.Name != "heroku-redis:mini" || list[0].State != "provisioned" || list[0].App.Name != app || !slices.Contains(list[0].ConfigVars, "REDIS_URL") {
		t.Fatalf("the API lists %+v", list)
	}
	name, vars := list[0].Name, list[0].ConfigVars
	if want := "Created " + name + " (heroku-redis:mini) as REDIS: " + app + " has its config vars " + strings.Join(vars, ", ") + " in a new release."; text != want {
		t.Errorf("create heroku-redis:mini: %q, want %q", text, want)
	}
	if cfg := m.config(app); !slices.Equal(keys(cfg), slices.Sorted(slices.Values(vars))) {
		t.Errorf("config vars %v, the add-on's %v", keys(cfg), vars)
	}
	secret := m.config(app)["REDIS_URL"]
	if !strings.HasPrefix(secret, "redis://") {
		t.Errorf("REDIS_URL is %q", secret)
	}
	rels := m.releases(app)
	if newest := rels[len(rels)-1]; len(rels) != releases+1 || !strings.Contains(newest.Description, "Attach REDIS") || newest.User.Email != accountEmail {
		t.Errorf("releases after the create: %d (was %d), newest %+v", len(rels), releases, newest)
	}
	page = m.dashPage(app)
	for _, want := range []string{`<tr class="addon" data-name="` + name + `">`, `<td class="plan">heroku-redis:mini</td>`, `<td class="as">REDIS</td>`, `<td class="config-vars"><code>` + strings.Join(vars, "</code> <code>") + `</code></td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	start := strings.Index(page, `<table id="addons">`)
	end := strings.Index(page[max(start, 0):], "</table>")
	if start < 0 || end < 0 || strings.Contains(page[start:start+end], secret) {
		t.Error("the add-ons table is missing or shows REDIS_URL's value")
	}

	// Another plan of the service (addons:upgrade); only another one.
	for plan, msg := range map[string]string{
		"heroku-redis:mini":             "Nothing was changed: " + name + " is on heroku-redis:mini already.",
		"heroku-postgresql:essential-0": "Nothing was changed: choose another plan of heroku-redis for " + name + ".",
	} {
		if _, level, text := m.dashSubmit(app, "addons/plan", url.Values{"addon": {name}, "plan": {plan}}, nil); level != "error" || text != msg {
			t.Errorf("plan %s: %s %q, want %q", plan, level, text, msg)
		}
	}
	if !strings.Contains(page, `<form class="inline change-plan"`) || !strings.Contains(page, `<option value="heroku-redis:premium-0">heroku-redis:premium-0</option></select>`) {
		t.Error("the page has no plan change form offering heroku-redis:premium-0")
	}
	if _, level, text := m.dashSubmit(app, "addons/plan", url.Values{"addon": {name}, "plan": {"heroku-redis:premium-0"}}, nil); level != "ok" || text != "Changed "+name+" from heroku-redis:mini to heroku-redis:premium-0." {
		t.Errorf("change plan: %s %q", level, text)
	}
	if list = m.listAddons(app); len(list) != 1 || list[0].Plan.Name != "heroku-redis:premium-0" {
		t.Fatalf("after the plan change the API lists %+v", list)
	}
	vars = list[0].ConfigVars // premium plans add REDIS_KEY_PREFIX

	// Attached to another app on its page (addons:attach): that app's
	// page lists it with its own attachment, and the add-on can only be
	// destroyed from its billing app, as the CLI says.
	const other = "daddons-other"
	if status := m.api("POST", "/apps", `{"name":"`+other+`"}`, nil); status != http.StatusCreated {
		t.Fatalf("create app %s: %d", other, status)
	}
	if page := m.dashPage(other); !strings.Contains(page, `<form id="attach-addon"`) || !strings.Contains(page, `<option value="`+name+`">`+name+` (heroku-redis:premium-0, billed to `+app+`)</option>`) {
		t.Errorf("%s's page offers no attach form for %s", other, name)
	}
	for form, msg := range map[string]url.Values{
		`Nothing was attached: "redis-nosuch-1" is not an add-on of another app that ` + other + ` could attach.`: {"addon": {"redis-nosuch-1"}},
		`attachment name "1BAD"`: {"addon": {name}, "as": {"1bad"}},
	} {
		if _, level, text := m.dashSubmit(other, "addons/attach", msg, nil); level != "error" || !strings.Contains(text, form) {
			t.Errorf("attach %v: %s %q, want %q", msg, level, text, form)
		}
	}
	if _, level, text := m.dashSubmit(other, "addons/attach", url.Values{"addon": {name}, "as": {"cache"}}, nil); level != "ok" || text != "Attached "+name+" to "+other+" as CACHE: "+other+" has its config vars CACHE_KEY_PREFIX, CACHE_URL in a new release." {
		t.Fatalf("attach %s to %s: %s %q", name, other, level, text)
	}
	page = m.dashPage(other)
	if !strings.Contains(page, `<td class="as">CACHE <span class="none">(billed to `+app+`)</span></td>`) || !strings.Contains(page, "<code>CACHE_URL</code>") || strings.Contains(page, "<code>REDIS_URL</code>") {
		t.Errorf("%s's page does not list its attachment of %s", other, name)
	}
	if strings.Contains(page, `<form class="inline destroy-addon"`) || !strings.Contains(page, `<form class="inline detach-addon"`) {
		t.Errorf("%s's page has a destroy form, or no detach form, for %s, billed to %s", other, name, app)
	}
	want := "Nothing was destroyed: " + name + " is billed to " + app + ", not " + other + ", which only has it attached."
	if _, level, text := m.dashSubmit(other, "addons/destroy", url.Values{"addon": {name}, "confirm": {name}}, nil); level != "error" || text != want {
		t.Errorf("destroy from %s: %s %q", other, level, text)
	}
	if _, ok := m.config(other)["CACHE_URL"]; !ok {
		t.Errorf("%s lost CACHE_URL", other)
	}
	// Detached there (addons:detach); the billing app can only destroy it.
	if _, level, text := m.dashSubmit(app, "addons/detach", url.Values{"addon": {name}}, nil); level != "error" || text != "Nothing was detached: "+name+" is billed to "+app+"; destroy it instead." {
		t.Errorf("detach from the billing app: %s %q", level, text)
	}
	if _, level, text := m.dashSubmit(other, "addons/detach", url.Values{"addon": {name}}, nil); level != "ok" || text != "Detached "+name+" from "+other+": CACHE_KEY_PREFIX, CACHE_URL left "+other+"'s config vars in a new release." {
		t.Errorf("detach from %s: %s %q", other, level, text)
	}
	if cfg := m.config(other); len(cfg) != 0 {
		t.Errorf("%s's config vars after the detach: %v", other, keys(cfg))
	}

	// Destroying asks for the name; a wrong one and a forged POST change
	// nothing.
	for _, tc := range []struct {
		form url.Values
		msg  string
	}{
		{url.Values{"addon": {name}, "confirm": {app}}, "Nothing was destroyed: the confirmation " + strconv.Quote(app) + " is not the add-on's name, " + name + "."},
		{url.Values{"addon": {name}}, "Nothing was destroyed: type the add-on's name, " + name + ", in the confirmation field to destroy it."},
		{url.Values{"addon": {"redis-nosuch-1"}, "confirm": {"redis-nosuch-1"}}, `Nothing was destroyed: "redis-nosuch-1" is not an add-on of ` + app + "."},
	} {
		if _, level, text := m.dashSubmit(app, "addons/destroy", tc.form, nil); level != "error" || text != tc.msg {
			t.Errorf("destroy %v: %s %q, want %q", tc.form, level, text, tc.msg)
		}
	}
	if status, _, _ := m.dashSubmit(app, "addons/destroy", url.Values{"addon": {name}, "confirm": {name}}, crossSite); status != http.StatusForbidden {
		t.Errorf("cross-origin destroy: %d, want 403", status)
	}
	if list := m.listAddons(app); len(list) != 1 || m.config(app)["REDIS_URL"] != secret {
		t.Fatalf("refused destroys changed the add-ons to %+v", list)
	}

	if _, level, text := m.dashSubmit(app, "addons/destroy", url.Values{"addon": {name}, "confirm": {name}}, nil); level != "ok" || text != "Destroyed "+name+" (heroku-redis:premium-0): "+strings.Join(vars, ", ")+" left "+app+"'s config vars in a new release." {
		t.Errorf("destroy: %s %q", level, text)
	}
	unchanged("after the destroy")
	if cfg := m.config(other); len(cfg) != 0 {
		t.Errorf("%s's config vars after the destroy: %v", other, keys(cfg))
	}
	rels = m.releases(app)
	if newest := rels[len(rels)-1]; !strings.Contains(newest.Description, "Detach REDIS") {
		t.Errorf("the newest release after the destroy is %+v", newest)
	}
	if code, body := m.apiRaw("GET", "/addons/"+name, ""); code != http.StatusNotFound {
		t.Errorf("GET the destroyed add-on: %d %s", code, body)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDashboardDrains: a drain added on the dashboard is the API's, with
// the same token; the API's URL checks and limit refuse the rest; one
// removed there is gone.
func TestDashboardDrains(t *testing.T) {
	m := startMinipaas(t)
	const app = "ddrains"
	if status := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); status != http.StatusCreated {
		t.Fatalf("create app: %d", status)
	}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	sinkURL := func(i int) string {
		u, _ := url.Parse(sink.URL)
		u.User = url.UserPassword("logger", "s3cret-pw")
		u.Path = "/logs/" + strconv.Itoa(i)
		return u.String()
	}
	page := m.dashPage(app)
	if !strings.Contains(page, `<p id="no-drains" class="none">`) || !strings.Contains(page, `<form id="add-drain"`) {
		t.Error("the page has no empty Log drains section")
	}
	// This minipaas has no add-on servers: no plans to pick, and the API
	// says which flag would offer one.
	if !strings.Contains(page, `<p id="no-addon-plans" class="none">`) || strings.Contains(page, `<form id="create-addon"`) {
		t.Error("the page offers add-on plans without add-on servers")
	}
	if _, level, text := m.dashSubmit(app, "addons", url.Values{"plan": {"heroku-redis"}}, nil); level != "error" || !strings.Contains(text, "start it with -redis-url") {
		t.Errorf("create heroku-redis without -redis-url: %s %q", level, text)
	}

	_, level, text := m.dashSubmit(app, "drains", url.Values{"url": {sinkURL(0)}}, nil)
	shown := strings.Replace(sinkURL(0), "s3cret-pw", "xxxxx", 1)
	if level != "ok" || !strings.HasPrefix(text, "Added drain "+shown+" with token d.") {
		t.Fatalf("add a drain: %s %q", level, text)
	}
	list := m.drains(app)
	if len(list) != 1 || list[0].URL != sinkURL(0) || list[0].Addon != nil || text != "Added drain "+shown+" with token "+list[0].Token+"." {
		t.Fatalf("the API lists %+v after %q", list, text)
	}
	token := list[0].Token
	page = m.dashPage(app)
	if !strings.Contains(page, `<tr class="drain" data-token="`+token+`">`) || !strings.Contains(page, "<code>"+shown+"</code>") || strings.Contains(page, "s3cret") {
		t.Error("the page does not list the drain, or shows its password")
	}

	before := m.drains(app)
	for _, tc := range []struct{ url, msg string }{
		{"", "The drain URL is required"},
		{"ftp://logger:s3cret-pw@example.invalid/x", "Url is invalid: want syslog://host:port"},
		{"syslog://logger:s3cret-pw@example.invalid", "Url is invalid"}, // no port
		{sinkURL(0), "Url has already been taken"},
	} {
		_, level, text := m.dashSubmit(app, "drains", url.Values{"url": {tc.url}}, nil)
		if level != "error" || !strings.Contains(text, tc.msg) || strings.Contains(text, "s3cret") {
			t.Errorf("add %q: %s %q, want an error with %q", tc.url, level, text, tc.msg)
		}
	}
	if status, _, _ := m.dashSubmit(app, "drains", url.Values{"url": {sinkURL(9)}}, crossSite); status != http.StatusForbidden {
		t.Errorf("cross-origin add: %d, want 403", status)
	}
	if status, _, _ := m.dashSubmit(app, "drains/remove", url.Values{"token": {token}}, crossSite); status != http.StatusForbidden {
		t.Errorf("cross-origin remove: %d, want 403", status)
	}
	if _, level, text := m.dashSubmit(app, "drains/remove", url.Values{"token": {"d.nosuch"}}, nil); level != "error" || !strings.HasPrefix(text, "Nothing was removed") {
		t.Errorf("remove an unknown drain: %s %q", level, text)
	}
	if got := m.drains(app); !slices.Equal(got, before) {
		t.Errorf("refused changes made the drains %+v", got)
	}

	// The API's limit of drains per app.
	for i := 1; i < maxLogDrains; i++ {
		if _, level, text := m.dashSubmit(app, "drains", url.Values{"url": {sinkURL(i)}}, nil); level != "ok" {
			t.Fatalf("add drain %d: %s %q", i, level, text)
		}
	}
	if _, level, text := m.dashSubmit(app, "drains", url.Values{"url": {sinkURL(maxLogDrains)}}, nil); level != "error" || !strings.Contains(text, "already has 5 log drains") {
		t.Errorf("a drain over the limit: %s %q", level, text)
	}
	if got := m.drains(app); len(got) != maxLogDrains {
		t.Errorf("the API lists %d drains, want %d", len(got), maxLogDrains)
	}

	if _, level, text := m.dashSubmit(app, "drains/remove", url.Values{"token": {token}}, nil); level != "ok" || text != "Removed drain "+shown+"." {
		t.Errorf("remove: %s %q", level, text)
	}
	for _, d := range m.drains(app) {
		if d.Token == token || d.URL == sinkURL(0) {
			t.Errorf("the API still lists the removed drain: %+v", d)
		}
	}
	if code, body := m.apiRaw("GET", "/apps/"+app+"/log-drains/"+token, ""); code != http.StatusNotFound {
		t.Errorf("GET the removed drain: %d %s", code, body)
	}
	if strings.Contains(m.out.String(), "s3cret") {
		t.Error("minipaas's output shows a drain URL's password")
	}
}
