package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// hookReceiver is a webhook endpoint over real HTTP that keeps what it
// got and fails the first fail requests with a 500.
type hookReceiver struct {
	srv  *httptest.Server
	fail atomic.Int32
	mu   sync.Mutex
	got  []hookDelivery
}

type hookDelivery struct {
	Resource, Action string
	Data             map[string]any
	Previous         map[string]any `json:"previous_data"`
	Metadata         struct {
		Event    struct{ Include string }
		Delivery struct{ ID string }
	} `json:"webhook_metadata"`
	signature, authorization string
	body                     []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var d hookDelivery
		if err := json.Unmarshal(b, &d); err != nil {
			t.Errorf("webhook body %q: %v", b, err)
		}
		d.signature, d.authorization, d.body = r.Header.Get("Heroku-Webhook-Hmac-SHA256"), r.Header.Get("Authorization"), b
		h.mu.Lock()
		h.got = append(h.got, d)
		h.mu.Unlock()
		if h.fail.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// wait returns the deliveries received once match accepts one of them.
func (h *hookReceiver) wait(t *testing.T, what string, match func(hookDelivery) bool) []hookDelivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		got := append([]hookDelivery(nil), h.got...)
		h.mu.Unlock()
		for _, d := range got {
			if match(d) {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no webhook delivery of %s among %d received", what, len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooks: app webhooks added with the real CLI get the app's
// releases, formation changes and dyno states, signed with the secret and
// with the authorization given; sync deliveries are retried, notify ones
// are not; removed webhooks get nothing more.
func TestWebhooks(t *testing.T) {
	m := startMinipaas(t)
	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)
	recv := newHookReceiver(t)
	const app = "hooks"
	heroku("apps:create", app)
	expectIn(t, heroku("webhooks:add", "-i", "api:release,api:formation,dyno", "-l", "sync", "-u", recv.srv.URL+"/hook", "-s", "s3cret", "-t", "Bearer abc", "-a", app),
		"Webhooks Signing Secret", "s3cret")
	expectIn(t, heroku("webhooks", "-a", app), recv.srv.URL+"/hook", "api:formation,api:release,dyno", "sync")

	// The first attempt fails: a sync webhook gets it again.
	recv.fail.Store(1)
	heroku("config:set", "A=1", "-a", app)
	release := func(d hookDelivery) bool {
		return d.Resource == "release" && d.Action == "create" && d.Data["description"] == "Set A config vars"
	}
	got := recv.wait(t, "the config release, twice", func(hookDelivery) bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		return len(recv.got) >= 2 && release(recv.got[1])
	})
	if len(got) != 2 || !release(got[0]) || got[0].Metadata.Delivery.ID != got[1].Metadata.Delivery.ID {
		t.Errorf("want the release delivered twice (a 500, then a retry of the same delivery), got %d deliveries", len(got))
	}
	for _, d := range got {
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(d.body)
		if d.signature != base64.StdEncoding.EncodeToString(mac.Sum(nil)) || d.authorization != "Bearer abc" || d.Metadata.Event.Include != "api:release" {
			t.Errorf("delivery signed %q, authorization %q, include %q", d.signature, d.authorization, d.Metadata.Event.Include)
		}
	}
	expectIn(t, heroku("webhooks:deliveries", "-a", app), "succeeded", "api:release", "2")

	// A deploy's dyno states, and a scale.
	m.pushHello(newGitClient(t), app)
	recv.wait(t, "web.1 up", func(d hookDelivery) bool {
		return d.Resource == "dyno" && d.Data["name"] == "web.1" && d.Data["state"] == "up"
	})
	heroku("ps:scale", "web=2", "-a", app)
	recv.wait(t, "the scale to 2", func(d hookDelivery) bool {
		return d.Resource == "formation" && d.Data["type"] == "web" && d.Data["quantity"] == 2.0
	})

	// A notify webhook is tried once.
	bad := newHookReceiver(t)
	bad.fail.Store(100)
	heroku("webhooks:add", "-i", "api:release", "-l", "notify", "-u", bad.srv.URL, "-a", app)
	heroku("config:set", "B=2", "-a", app)
	bad.wait(t, "the failing notify delivery", func(d hookDelivery) bool { return d.Resource == "release" })
	time.Sleep(500 * time.Millisecond) // more than the test retry waits
	if n := len(bad.wait(t, "it", func(hookDelivery) bool { return true })); n != 1 {
		t.Errorf("a notify webhook got %d attempts, want 1", n)
	}
	expectIn(t, heroku("webhooks:deliveries", "--status", "failed", "-a", app), "failed", "notify")

	// Custom domains (api:domain): added, then removed.
	heroku("webhooks:add", "-i", "api:domain", "-l", "notify", "-u", recv.srv.URL+"/domains", "-a", app)
	heroku("domains:add", "www.hooks.example", "-a", app)
	recv.wait(t, "the domain added", func(d hookDelivery) bool {
		return d.Resource == "domain" && d.Action == "create" && d.Data["hostname"] == "www.hooks.example" && d.Data["kind"] == "custom"
	})
	heroku("domains:remove", "www.hooks.example", "-a", app)
	recv.wait(t, "the domain removed", func(d hookDelivery) bool {
		return d.Resource == "domain" && d.Action == "destroy" && d.Data["hostname"] == "www.hooks.example"
	})

	// The app itself (api:app): maintenance switched, then a rename (and
	// back).
	heroku("webhooks:add", "-i", "api:app", "-l", "notify", "-u", recv.srv.URL+"/app", "-a", app)
	heroku("maintenance:on", "-a", app)
	recv.wait(t, "maintenance on", func(d hookDelivery) bool {
		return d.Resource == "app" && d.Action == "update" && d.Data["name"] == app && d.Data["maintenance"] == true && len(d.Previous) == 0
	})
	heroku("maintenance:off", "-a", app)
	heroku("apps:rename", app+"-renamed", "-a", app)
	recv.wait(t, "the rename", func(d hookDelivery) bool {
		return d.Resource == "app" && d.Action == "update" && d.Data["name"] == app+"-renamed" && d.Previous["name"] == app &&
			d.Data["web_url"] == "http://"+app+"-renamed.localhost:"+portOf(m.routerAddr)+"/"
	})
	heroku("apps:rename", app, "-a", app+"-renamed")

	// Removed, a webhook gets nothing more.
	var hooks []struct{ ID, URL string }
	m.api("GET", "/apps/"+app+"/webhooks", "", &hooks)
	for _, h := range hooks {
		heroku("webhooks:remove", h.ID, "-a", app)
	}
	recv.mu.Lock()
	before := len(recv.got)
	recv.mu.Unlock()
	heroku("config:set", "C=3", "-a", app)
	time.Sleep(500 * time.Millisecond)
	recv.mu.Lock()
	after := len(recv.got)
	recv.mu.Unlock()
	if after != before {
		t.Errorf("a removed webhook got %d more deliveries", after-before)
	}
	for body, msg := range map[string]string{
		`{"include":["api:nosuch"],"level":"sync","url":"http://x/"}`: "unknown event kind",
		`{"include":["dyno"],"level":"later","url":"http://x/"}`:      "level must be notify",
		`{"include":["dyno"],"level":"sync","url":"ftp://x/"}`:        "url must be an http or https URL",
	} {
		if code, got := m.apiRaw("POST", "/apps/"+app+"/webhooks", body); code != http.StatusUnprocessableEntity || !strings.Contains(got, msg) {
			t.Errorf("POST webhooks %s: %d %s; want 422 with %q", body, code, got, msg)
		}
	}
}

// TestAddonWebhooks: api:addon deliveries for the billing app (created,
// plan changed, destroyed) and api:addon-attachment ones for the attached
// app (attached, detached), with the add-on or attachment in the API's
// JSON.
func TestAddonWebhooks(t *testing.T) {
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	m := startMinipaasWith(t, filepath.Join(t.TempDir(), "data"), token, "-redis-url", startRedis(t))
	recv := newHookReceiver(t)
	for _, app := range []string{"billed", "borrower"} {
		if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
			t.Fatalf("create %s: %d", app, code)
		}
		body := `{"include":["api:addon","api:addon-attachment","api:sni-endpoint"],"level":"notify","url":"` + recv.srv.URL + `/` + app + `"}`
		if code := m.api("POST", "/apps/"+app+"/webhooks", body, nil); code != http.StatusCreated {
			t.Fatalf("webhook on %s: %d", app, code)
		}
	}
	var redis addonOut
	if code := m.api("POST", "/apps/billed/addons", `{"plan":"heroku-redis:mini"}`, &redis); code != http.StatusCreated {
		t.Fatalf("create redis: %d", code)
	}
	name := func(d hookDelivery, key string) any {
		if sub, ok := d.Data[key].(map[string]any); ok {
			return sub["name"]
		}
		return nil
	}
	recv.wait(t, "the add-on created", func(d hookDelivery) bool {
		return d.Resource == "addon" && d.Action == "create" && d.Data["name"] == redis.Name &&
			name(d, "addon_service") == "heroku-redis" && name(d, "app") == "billed" && d.Metadata.Event.Include == "api:addon"
	})
	if code := m.api("POST", "/addon-attachments", `{"addon":{"name":"`+redis.Name+`"},"app":{"name":"borrower"},"name":"cache"}`, nil); code != http.StatusCreated {
		t.Fatalf("attach: %d", code)
	}
	recv.wait(t, "the attachment made", func(d hookDelivery) bool {
		return d.Resource == "addon-attachment" && d.Action == "create" && d.Data["name"] == "CACHE" && name(d, "app") == "borrower" &&
			name(d, "addon") == redis.Name && d.Metadata.Event.Include == "api:addon-attachment"
	})
	if code := m.api("PATCH", "/apps/billed/addons/"+redis.Name, `{"plan":{"name":"heroku-redis:premium-0"}}`, nil); code != http.StatusOK {
		t.Fatalf("change plan: %d", code)
	}
	recv.wait(t, "the plan changed", func(d hookDelivery) bool {
		return d.Resource == "addon" && d.Action == "update" && name(d, "plan") == "heroku-redis:premium-0"
	})
	var atts []struct{ ID, Name string }
	m.api("GET", "/apps/borrower/addon-attachments", "", &atts)
	for _, at := range atts {
		if at.Name == "CACHE" {
			if code := m.api("DELETE", "/addon-attachments/"+at.ID, "", nil); code != http.StatusOK {
				t.Fatalf("detach: %d", code)
			}
		}
	}
	recv.wait(t, "the attachment removed", func(d hookDelivery) bool {
		return d.Resource == "addon-attachment" && d.Action == "destroy" && d.Data["name"] == "CACHE" && name(d, "app") == "borrower"
	})
	if code := m.api("DELETE", "/apps/billed/addons/"+redis.Name, "", nil); code != http.StatusOK {
		t.Fatalf("destroy: %d", code)
	}
	recv.wait(t, "the add-on destroyed", func(d hookDelivery) bool {
		return d.Resource == "addon" && d.Action == "destroy" && d.Data["name"] == redis.Name && d.Data["state"] == "deprovisioned"
	})

	// Uploaded certificates (api:sni-endpoint), without their keys.
	cert := m.addCert("billed", validCert(t, 30, "www.billed.test"))
	got := recv.wait(t, "the certificate added", func(d hookDelivery) bool {
		return d.Resource == "sni-endpoint" && d.Action == "create" && d.Data["name"] == cert.Name && name(d, "app") == "billed"
	})
	for _, d := range got {
		if strings.Contains(string(d.body), "PRIVATE KEY") {
			t.Error("a webhook delivery carries a private key")
		}
	}
	if code := m.api("DELETE", "/apps/billed/sni-endpoints/"+cert.Name, "", nil); code != http.StatusOK {
		t.Fatalf("remove the certificate: %d", code)
	}
	recv.wait(t, "the certificate removed", func(d hookDelivery) bool {
		return d.Resource == "sni-endpoint" && d.Action == "destroy" && d.Data["name"] == cert.Name
	})
}

// TestWebhookHistoryPersists: events and deliveries outlive a restart, and
// a delivery a stop left retrying is made again at the next start.
func TestWebhookHistoryPersists(t *testing.T) {
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	m := startMinipaasWith(t, dataDir, token)
	recv := newHookReceiver(t)
	if code := m.api("POST", "/apps", `{"name":"kept"}`, nil); code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	if code := m.api("POST", "/apps/kept/webhooks", `{"include":["api:release"],"level":"sync","url":"`+recv.srv.URL+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("add webhook: %d", code)
	}
	if code := m.api("PATCH", "/apps/kept/config-vars", `{"A":"1"}`, nil); code != http.StatusOK {
		t.Fatalf("config:set: %d", code)
	}
	first := recv.wait(t, "the release", func(d hookDelivery) bool { return d.Resource == "release" })[0]
	type delivery struct {
		ID     string
		Status string
		Event  struct{ ID string }
	}
	var before []delivery
	deadline := time.Now().Add(30 * time.Second)
	for len(before) != 1 || before[0].Status != "succeeded" {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %+v", before)
		}
		m.api("GET", "/apps/kept/webhook-deliveries", "", &before)
		time.Sleep(20 * time.Millisecond)
	}
	if before[0].ID != first.Metadata.Delivery.ID {
		t.Errorf("delivery id %s, the receiver got %s", before[0].ID, first.Metadata.Delivery.ID)
	}

	// As if minipaas had stopped between two attempts of a sync delivery.
	recs, err := m.p.Records(context.Background(), platform.WebhookDeliveryRecords)
	if err != nil || len(recs) != 1 {
		t.Fatalf("delivery records: %d, %v", len(recs), err)
	}
	for key, b := range recs {
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		d["Status"] = "retrying"
		b, _ = json.Marshal(d)
		if err := m.p.PutRecord(context.Background(), platform.WebhookDeliveryRecords, key, b); err != nil {
			t.Fatal(err)
		}
	}
	m.stop()
	recv.mu.Lock()
	recv.got = nil
	recv.mu.Unlock()

	m = startMinipaasWith(t, dataDir, token)
	again := recv.wait(t, "the resumed delivery", func(d hookDelivery) bool { return d.Resource == "release" })[0]
	if again.Metadata.Delivery.ID != first.Metadata.Delivery.ID || again.Metadata.Event.Include != "api:release" {
		t.Errorf("resumed delivery %+v, want delivery %s again", again.Metadata, first.Metadata.Delivery.ID)
	}
	var after []delivery
	deadline = time.Now().Add(30 * time.Second)
	for len(after) != 1 || after[0].Status != "succeeded" {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries after the restart: %+v", after)
		}
		m.api("GET", "/apps/kept/webhook-deliveries", "", &after)
		time.Sleep(20 * time.Millisecond)
	}
	var events []struct{ ID string }
	if code := m.api("GET", "/apps/kept/webhook-events", "", &events); code != http.StatusOK || len(events) != 1 || events[0].ID != after[0].Event.ID {
		t.Errorf("events after the restart: %d %+v (delivery's event %s)", code, events, after[0].Event.ID)
	}

	// Destroying the app forgets its history.
	if code := m.api("DELETE", "/apps/kept", "", nil); code != http.StatusOK {
		t.Fatalf("destroy: %d", code)
	}
	for _, kind := range []platform.RecordKind{platform.WebhookEventRecords, platform.WebhookDeliveryRecords} {
		if recs, err := m.p.Records(context.Background(), kind); err != nil || len(recs) != 0 {
			t.Errorf("%s after destroy: %d, %v", kind, len(recs), err)
		}
	}
}
