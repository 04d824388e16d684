package dashboard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// appNames lists the platform's apps.
func appNames(t *testing.T, p *platform.Platform) []string {
	t.Helper()
	apps, err := p.Apps(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	return names
}

func domainsOf(t *testing.T, p *platform.Platform, app string) []string {
	t.Helper()
	ds, err := p.Domains(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestCreateApp: the apps page's form creates an app and goes to its page;
// a missing, invalid or taken name is shown on the apps page and creates
// nothing.
func TestCreateApp(t *testing.T) {
	p := openPlatform(t)
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token, User: dashUser})

	_, page := b.do("GET", "/dashboard/", nil, nil)
	for _, want := range []string{`<form id="create-app"`, `method="post" action="/dashboard/apps"`, `name="name"`, `id="no-apps"`} {
		if !strings.Contains(page, want) {
			t.Errorf("apps page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="flash"`) {
		t.Error("a flash message without an action")
	}

	resp, _ := b.do("POST", "/dashboard/apps", url.Values{"name": {" web-shop "}}, sameOrigin(b))
	created := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(created, "/dashboard/apps/web-shop?") {
		t.Fatalf("create web-shop: %d to %q, want 303 to its page", resp.StatusCode, created)
	}
	_, page = b.do("GET", created, nil, nil)
	if m := flashRE.FindStringSubmatch(page); m == nil || m[1] != "ok" || !strings.HasPrefix(m[2], "Created web-shop.") {
		t.Errorf("the new app's page shows flash %q", m)
	}
	if _, err := p.App(context.Background(), "web-shop"); err != nil {
		t.Errorf("web-shop after creating it: %v", err)
	}
	// The redirect's flash is signed for web-shop's page: the apps page,
	// whose flashes are signed for "", does not show it.
	_, page = b.do("GET", "/dashboard/?"+created[strings.Index(created, "?")+1:], nil, nil)
	if strings.Contains(page, `id="flash"`) {
		t.Error("the apps page shows a flash signed for an app page")
	}

	for _, tc := range []struct{ name, want string }{
		{"", "The app name is required: 3 to 30 lowercase letters, digits and dashes, starting with a letter."},
		{"   ", "The app name is required"},
		{"Bad_Name", `app name "Bad_Name" is invalid: it must start with a lowercase letter`},
		{"ab", `app name "ab" is invalid`},
		{"web-shop", `create app "web-shop": name is already taken`},
	} {
		before := appNames(t, p)
		level, text := b.submitTo("/dashboard/apps", url.Values{"name": {tc.name}}, "/dashboard/")
		if level != "error" || !strings.Contains(text, tc.want) {
			t.Errorf("create %q: %s %q, want an error with %q", tc.name, level, text, tc.want)
		}
		if after := appNames(t, p); !slices.Equal(after, before) {
			t.Errorf("create %q changed the apps from %v to %v", tc.name, before, after)
		}
	}
}

// TestDomains: the app page lists the app's custom domains and adds and
// removes them; a bad host name is shown and changes nothing.
func TestDomains(t *testing.T) {
	p := openPlatform(t)
	ctx := context.Background()
	for _, app := range []string{"demo", "other"} {
		if _, err := p.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AddDomain(ctx, "other", "api.example.com"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token, User: dashUser})

	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{`<form id="add-domain"`, `action="/dashboard/apps/demo/domains"`, `name="hostname"`, `id="no-domains"`} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}

	if level, text := b.submit("domains", url.Values{"hostname": {" WWW.Example.com "}}); level != "ok" || text != "Added www.example.com: point its DNS (a CNAME record) at demo.localhost." {
		t.Errorf("add www.example.com: %s %q", level, text)
	}
	if ds := domainsOf(t, p, "demo"); !slices.Equal(ds, []string{"www.example.com"}) {
		t.Errorf("domains after adding one: %v", ds)
	}
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{
		`<tr class="domain" data-hostname="www.example.com">`,
		`action="/dashboard/apps/demo/domains/remove"><input type="hidden" name="hostname" value="www.example.com"><button type="submit">Remove</button>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}

	for _, tc := range []struct{ host, want string }{
		{"", "The hostname is required: a domain name such as www.example.com."},
		{"bad_host.example.com", `domain "bad_host.example.com" is invalid: must be a host name of dot-separated labels`},
		{"-x.example.com", `domain "-x.example.com" is invalid`},
		{"www.example.com", "www.example.com is already a domain of demo."},
		{"api.example.com", "domains of demo"}, // routed to another app
	} {
		level, text := b.submit("domains", url.Values{"hostname": {tc.host}})
		if level != "error" || !strings.Contains(text, tc.want) {
			t.Errorf("add %q: %s %q, want an error with %q", tc.host, level, text, tc.want)
		}
		if ds := domainsOf(t, p, "demo"); !slices.Equal(ds, []string{"www.example.com"}) {
			t.Errorf("add %q changed the domains to %v", tc.host, ds)
		}
	}
	if ds := domainsOf(t, p, "other"); !slices.Equal(ds, []string{"api.example.com"}) {
		t.Errorf("other's domains are %v", ds)
	}

	if level, text := b.submit("domains/remove", url.Values{"hostname": {"nope.example.com"}}); level != "error" || text != `"nope.example.com" is not a custom domain of demo.` {
		t.Errorf("remove an unknown domain: %s %q", level, text)
	}
	if level, text := b.submit("domains/remove", url.Values{"hostname": {"api.example.com"}}); level != "error" || !strings.Contains(text, "is not a custom domain of demo") {
		t.Errorf("remove another app's domain: %s %q", level, text)
	}
	if level, text := b.submit("domains/remove", url.Values{"hostname": {"www.example.com"}}); level != "ok" || text != "Removed www.example.com." {
		t.Errorf("remove www.example.com: %s %q", level, text)
	}
	if ds := domainsOf(t, p, "demo"); len(ds) != 0 {
		t.Errorf("domains after removing the only one: %v", ds)
	}
	if ds := domainsOf(t, p, "other"); !slices.Equal(ds, []string{"api.example.com"}) {
		t.Errorf("other's domains are %v", ds)
	}
}

// TestDestroyApp: the app page's destroy form needs the app's name typed
// in; with it the app and its domains go and the apps page says so.
func TestDestroyApp(t *testing.T) {
	p := openPlatform(t)
	ctx := context.Background()
	for _, app := range []string{"demo", "heir"} {
		if _, err := p.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AddDomain(ctx, "demo", "shop.example.com"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token, User: dashUser})

	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{`<form id="destroy-app"`, `action="/dashboard/apps/demo/destroy"`, `name="confirm"`, `Type <code>demo</code> to confirm`} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}

	for _, tc := range []struct{ confirm, want string }{
		{"", "Nothing was destroyed: type the app's name, demo, in the confirmation field to destroy it."},
		{"dem", `Nothing was destroyed: the confirmation "dem" is not the app's name, demo.`},
		{"heir", `the confirmation "heir" is not the app's name, demo.`},
		{"DEMO", `the confirmation "DEMO" is not`},
	} {
		level, text := b.submit("destroy", url.Values{"confirm": {tc.confirm}})
		if level != "error" || !strings.Contains(text, tc.want) {
			t.Errorf("destroy confirmed with %q: %s %q, want an error with %q", tc.confirm, level, text, tc.want)
		}
		if names := appNames(t, p); !slices.Equal(names, []string{"demo", "heir"}) {
			t.Fatalf("destroy confirmed with %q: the apps are %v", tc.confirm, names)
		}
		if ds := domainsOf(t, p, "demo"); !slices.Equal(ds, []string{"shop.example.com"}) {
			t.Errorf("destroy confirmed with %q: demo's domains are %v", tc.confirm, ds)
		}
	}

	if level, text := b.submitTo("/dashboard/apps/demo/destroy", url.Values{"confirm": {"demo"}}, "/dashboard/"); level != "ok" || text != "Destroyed demo." {
		t.Errorf("destroy: %s %q", level, text)
	}
	if _, err := p.App(ctx, "demo"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("demo after destroying it: %v", err)
	}
	_, page = b.do("GET", "/dashboard/", nil, nil)
	if strings.Contains(page, `data-app="demo"`) || !strings.Contains(page, `data-app="heir"`) {
		t.Error("the apps page still lists demo, or not heir")
	}
	// Its domain is free for another app.
	if err := p.AddDomain(ctx, "heir", "shop.example.com"); err != nil {
		t.Errorf("demo's domain after demo was destroyed: %v", err)
	}
	if resp, _ := b.do("POST", "/dashboard/apps/demo/destroy", url.Values{"confirm": {"demo"}}, sameOrigin(b)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("destroy a destroyed app: %d, want 404", resp.StatusCode)
	}
}

// TestRenameApp: the app page's rename form moves the app, with its
// domains, to the new name and goes to its page there; an empty, unchanged,
// invalid or taken name is shown on the app page and renames nothing.
func TestRenameApp(t *testing.T) {
	p := openPlatform(t)
	ctx := context.Background()
	for _, app := range []string{"demo", "taken"} {
		if _, err := p.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AddDomain(ctx, "demo", "shop.example.com"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token, User: dashUser})

	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{`<form id="rename-app"`, `action="/dashboard/apps/demo/rename"`, `name="name" required value="demo"`} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"", "The new name is required"},
		{"demo", "demo is already the app's name."},
		{"Shop!", `app name "Shop!" is invalid`},
		{"taken", `name is already taken`},
	} {
		level, text := b.submit("rename", url.Values{"name": {tc.name}})
		if level != "error" || !strings.Contains(text, tc.want) {
			t.Errorf("rename to %q: %s %q, want an error with %q", tc.name, level, text, tc.want)
		}
		if names := appNames(t, p); !slices.Equal(names, []string{"demo", "taken"}) {
			t.Fatalf("rename to %q: the apps are %v", tc.name, names)
		}
	}

	level, text := b.submitTo("/dashboard/apps/demo/rename", url.Values{"name": {" shop "}}, "/dashboard/apps/shop")
	if level != "ok" || !strings.HasPrefix(text, "Renamed demo to shop: it is served at http://shop.localhost/ now.") {
		t.Errorf("rename: %s %q", level, text)
	}
	if names := appNames(t, p); !slices.Equal(names, []string{"shop", "taken"}) {
		t.Errorf("after the rename the apps are %v", names)
	}
	if ds := domainsOf(t, p, "shop"); !slices.Equal(ds, []string{"shop.example.com"}) {
		t.Errorf("shop's domains are %v", ds)
	}
	if resp, _ := b.do("GET", "/dashboard/apps/demo", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the old name's page: %d, want 404", resp.StatusCode)
	}
}

// TestCrossOriginAppForms: the create, domain and destroy forms refuse
// another site's POST, even one that would succeed from the dashboard.
func TestCrossOriginAppForms(t *testing.T) {
	p := openPlatform(t)
	ctx := context.Background()
	if _, err := p.CreateApp(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if err := p.AddDomain(ctx, "demo", "www.example.com"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token})
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site", "Origin": b.srv.URL},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://demo.localhost:5000"},
	} {
		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{"/dashboard/apps", url.Values{"name": {"evil-app"}}},
			{"/dashboard/apps/demo/domains", url.Values{"hostname": {"evil.example.com"}}},
			{"/dashboard/apps/demo/domains/remove", url.Values{"hostname": {"www.example.com"}}},
			{"/dashboard/apps/demo/destroy", url.Values{"confirm": {"demo"}}},
		} {
			resp, body := b.do("POST", tc.path, tc.form, hdr)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Cross-origin request refused") {
				t.Errorf("POST %s with %v: %d, want 403", tc.path, hdr, resp.StatusCode)
			}
		}
	}
	if names := appNames(t, p); !slices.Equal(names, []string{"demo"}) {
		t.Errorf("after cross-origin POSTs the apps are %v", names)
	}
	if ds := domainsOf(t, p, "demo"); !slices.Equal(ds, []string{"www.example.com"}) {
		t.Errorf("after cross-origin POSTs demo's domains are %v", ds)
	}
}

// TestReadOnlyAppForms: without Control neither page has the new forms,
// and their POSTs are 405.
func TestReadOnlyAppForms(t *testing.T) {
	h := &Handler{Source: newFake(), Token: token}
	for _, path := range []string{"/dashboard/", "/dashboard/apps/demo"} {
		if w := get(t, h, path, true); w.Code != 200 || strings.Contains(w.Body.String(), "<form") || strings.Contains(w.Body.String(), `id="domains"`) {
			t.Errorf("GET %s: %d, with a form or domains", path, w.Code)
		}
	}
	for _, path := range []string{"/dashboard/apps", "/dashboard/apps/demo/domains", "/dashboard/apps/demo/domains/remove", "/dashboard/apps/demo/destroy"} {
		r := httptest.NewRequest("POST", path, strings.NewReader("confirm=demo"))
		r.SetBasicAuth("", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", path, rec.Code)
		}
	}
}

// TestBuilds: the app page lists the platform's builds, newest first,
// each with its log, which the dashboard serves behind its own login.
func TestBuilds(t *testing.T) {
	p := openPlatform(t)
	ctx := context.Background()
	if _, err := p.CreateApp(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	src := httptest.NewServer(http.NotFoundHandler())
	defer src.Close()
	var ids []string
	for _, v := range []string{"v1.0.0", "v1.0.1"} {
		b, err := p.CreateBuild(ctx, "shop", platform.BuildRequest{Source: platform.BuildSource{URL: src.URL + "/src.tgz", Version: v}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
		out, err := p.BuildOutput(ctx, b.AppID, b.ID, b.OutputToken)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, out) // to the build's end
		out.Close()
	}
	h := &Handler{Source: p, Token: token}
	page := get(t, h, "/dashboard/apps/shop", true).Body.String()
	first, second := strings.Index(page, `data-build="`+ids[1]+`"`), strings.Index(page, `data-build="`+ids[0]+`"`)
	if first < 0 || second < first || !strings.Contains(page, `<td class="status">failed</td>`) || !strings.Contains(page, "<code>v1.0.1</code>") {
		t.Fatalf("app page builds, want %s before %s, failed:\n%s", ids[1], ids[0], page)
	}
	link := "/dashboard/apps/shop/builds/" + ids[1]
	if !strings.Contains(page, `href="`+link+`"`) {
		t.Errorf("no link to %s", link)
	}
	w := get(t, h, link, true)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") || !strings.Contains(w.Body.String(), "404 Not Found") {
		t.Errorf("build log: %d %s %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	if w := get(t, h, link, false); w.Code != http.StatusUnauthorized {
		t.Errorf("build log without the token: %d", w.Code)
	}
	if w := get(t, h, "/dashboard/apps/shop/builds/nope", true); w.Code != http.StatusNotFound {
		t.Errorf("an unknown build: %d", w.Code)
	}
}

var _ BuildHistory = (*platform.Platform)(nil)
