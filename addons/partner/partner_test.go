package partner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
	"github.com/dynokit/dynokit/addons/internal/testserver"
	"github.com/dynokit/dynokit/addons/partner"
	"github.com/dynokit/dynokit/addons/postgres"
	"github.com/dynokit/dynokit/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var pg testserver.Postgres

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

const (
	manifestID = "dynokit-test"
	manifestPW = "manifest-password-123"
)

// serve runs a Handler over p and returns a Client for it.
func serve(t *testing.T, h *partner.Handler) (*partner.Client, *atomic.Int32) {
	t.Helper()
	h.ID, h.Password = manifestID, manifestPW
	var accepted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusAccepted {
			accepted.Add(1)
		}
	}))
	t.Cleanup(func() { srv.Close(); h.Wait() })
	return &partner.Client{BaseURL: srv.URL, ID: manifestID, Password: manifestPW, HTTPClient: srv.Client()}, &accepted
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }

// withCallbacks serves the client's callback endpoint.
func withCallbacks(t *testing.T, c *partner.Client) {
	mux := http.NewServeMux()
	mux.Handle("/platform/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c.CallbackBase = srv.URL + "/platform"
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestConformanceOverHTTP(t *testing.T) {
	t.Parallel()
	c, accepted := serve(t, &partner.Handler{Provider: addonstest.NewMemProvider("MYADDON", "basic", "premium")})
	addonstest.Suite{Provider: c, Prefix: "MYADDON", Plans: []string{"basic", "premium"}}.Run(t)
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d asynchronous answers from a synchronous handler", n)
	}
}

// slowProvider makes every provision take a while.
type slowProvider struct {
	addons.Provider
	delay time.Duration
}

func (s slowProvider) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return addons.Resource{}, ctx.Err()
	}
	return s.Provider.Provision(ctx, req)
}

func (s slowProvider) ChangePlan(ctx context.Context, id, plan string) (addons.Resource, error) {
	return s.Provider.(addons.PlanChanger).ChangePlan(ctx, id, plan)
}

func TestConformanceAsynchronous(t *testing.T) {
	t.Parallel()
	mem := addonstest.NewMemProvider("MYADDON", "basic", "premium")
	c, accepted := serve(t, &partner.Handler{Provider: slowProvider{mem, 150 * time.Millisecond}, AsyncAfter: time.Millisecond})
	withCallbacks(t, c)
	c.PollInterval = 50 * time.Millisecond
	addonstest.Suite{Provider: c, Prefix: "MYADDON", Plans: []string{"basic", "premium"}}.Run(t)
	if accepted.Load() == 0 {
		t.Error("no provision went asynchronous (202)")
	}
}

func TestAsynchronousWithoutCallbackIsRefused(t *testing.T) {
	t.Parallel()
	// A provider that always answers 202.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"id":"abc","message":"later"}`)
	}))
	defer srv.Close()
	c := &partner.Client{BaseURL: srv.URL, ID: "x", Password: "y"}
	_, err := c.Provision(ctx(t), addons.ProvisionRequest{ID: "u1", Plan: "basic"})
	if !errors.Is(err, addons.ErrInvalid) || !strings.Contains(err.Error(), "CallbackBase is not set") {
		t.Fatalf("202 without a callback base: %v", err)
	}
	// With a callback base but a provider that never calls back, the
	// caller's deadline ends the wait.
	withCallbacks(t, c)
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Provision(short, addons.ProvisionRequest{ID: "u2", Plan: "basic"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("never called back: %v", err)
	}
}

func TestConformancePostgresOverHTTP(t *testing.T) {
	t.Parallel()
	info := pg.Start(t)
	p := &postgres.Provider{AdminURL: info.AdminURL, BinDir: info.BinDir}
	c, _ := serve(t, &partner.Handler{Provider: p})
	usable := func(t *testing.T, res addons.Resource) {
		conn, err := pgx.Connect(ctx(t), res.Config["DATABASE_URL"])
		if err != nil {
			t.Fatalf("connect with the DATABASE_URL provisioned over HTTP: %v", err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx(t), "CREATE TABLE IF NOT EXISTS t (n int)"); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(t *testing.T, res addons.Resource) {
		if conn, err := pgx.Connect(ctx(t), res.Config["DATABASE_URL"]); err == nil {
			conn.Close(context.Background())
			t.Fatal("deprovisioned database still accepts its credentials")
		}
	}
	addonstest.Suite{Provider: c, Prefix: "DATABASE", Plans: []string{"hobby", "standard"}, Usable: usable, Gone: gone}.Run(t)
}

func TestHandlerRejects(t *testing.T) {
	h := &partner.Handler{Provider: addonstest.NewMemProvider("MYADDON", "basic"), ID: manifestID, Password: manifestPW}
	defer h.Wait()
	tests := []struct {
		name, method, path, body string
		user, pass               string
		status                   int
	}{
		{"no auth", "POST", "/heroku/resources", `{"uuid":"u","plan":"basic"}`, "", "", 401},
		{"wrong password", "POST", "/heroku/resources", `{"uuid":"u","plan":"basic"}`, manifestID, "nope", 401},
		{"wrong id", "POST", "/heroku/resources", `{"uuid":"u","plan":"basic"}`, "other", manifestPW, 401},
		{"not JSON", "POST", "/heroku/resources", `uuid=u`, manifestID, manifestPW, 400},
		{"uuid not a string", "POST", "/heroku/resources", `{"uuid":5,"plan":"basic"}`, manifestID, manifestPW, 400},
		{"no uuid", "POST", "/heroku/resources", `{"plan":"basic"}`, manifestID, manifestPW, 400},
		{"no plan", "POST", "/heroku/resources", `{"uuid":"u"}`, manifestID, manifestPW, 400},
		{"unknown plan", "POST", "/heroku/resources", `{"uuid":"u","plan":"gold"}`, manifestID, manifestPW, 422},
		{"deprovision unknown", "DELETE", "/heroku/resources/nope", ``, manifestID, manifestPW, 404},
		{"plan change unknown", "PUT", "/heroku/resources/nope", `{"plan":"basic"}`, manifestID, manifestPW, 404},
		{"plan change without plan", "PUT", "/heroku/resources/nope", `{}`, manifestID, manifestPW, 400},
		{"unknown route", "GET", "/heroku/resources", ``, manifestID, manifestPW, 405},
	}
	var golden bytes.Buffer
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.user != "" {
			r.SetBasicAuth(tt.user, tt.pass)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, w.Code, tt.status, w.Body)
		}
		if tt.status != 405 {
			var eb partner.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Message == "" {
				t.Errorf("%s: body %q is not a JSON error with a message", tt.name, w.Body)
			}
			if strings.Contains(w.Body.String(), manifestPW) {
				t.Errorf("%s: answer leaks the password", tt.name)
			}
		}
		fmt.Fprintf(&golden, "%s %s %s → %d %s", tt.method, tt.path, tt.name, w.Code, w.Body)
	}
	checkGolden(t, "handler_errors.golden", golden.Bytes())
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	mem := addonstest.NewMemProvider("MYADDON", "basic")
	c, _ := serve(t, &partner.Handler{Provider: mem})
	bad := &partner.Client{BaseURL: c.BaseURL, ID: c.ID, Password: "wrong-secret", HTTPClient: c.HTTPClient}
	_, err := bad.Provision(ctx(t), addons.ProvisionRequest{ID: "u", Plan: "basic"})
	var se *partner.StatusError
	if !errors.As(err, &se) || se.Status != 401 || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := c.Provision(ctx(t), addons.ProvisionRequest{ID: "u", Plan: "gold"}); !errors.Is(err, addons.ErrUnknownPlan) || !strings.Contains(err.Error(), "gold") {
		t.Errorf("unknown plan: %v", err)
	}
	// Provider down: nothing listens on the address.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	down := &partner.Client{BaseURL: "http://" + addr, ID: manifestID, Password: "secret-pw"}
	_, err = down.Provision(ctx(t), addons.ProvisionRequest{ID: "u", Plan: "basic"})
	if err == nil || !strings.Contains(err.Error(), "provider unreachable") || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("provider down: %v", err)
	}
	// Provider slow: the caller's deadline wins.
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hang)
	sc := &partner.Client{BaseURL: slow.URL, ID: "x", Password: "y"}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := sc.Provision(short, addons.ProvisionRequest{ID: "u", Plan: "basic"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow provider: %v", err)
	}
	// A provider answering 500 with a message: the message is not shown.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		_, _ = io.WriteString(w, `{"message":"stack trace with internals"}`)
	}))
	defer broken.Close()
	bc := &partner.Client{BaseURL: broken.URL, ID: "x", Password: "y"}
	if err := bc.Deprovision(ctx(t), "abc"); err == nil || strings.Contains(err.Error(), "internals") || !strings.Contains(err.Error(), "500") {
		t.Errorf("500 answer: %v", err)
	}
}

// badConfigProvider returns config var names a platform must refuse.
type badConfigProvider struct{ *addonstest.MemProvider }

func (b badConfigProvider) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	res, err := b.MemProvider.Provision(ctx, req)
	if err == nil {
		res.Config["MYADDON-HOST"] = "db.internal"
	}
	return res, err
}

func TestManagerRefusesRemoteBadConfig(t *testing.T) {
	mem := addonstest.NewMemProvider("MYADDON", "basic")
	c, _ := serve(t, &partner.Handler{Provider: badConfigProvider{mem}})
	cfg := &addonstest.MemConfig{}
	m := &addons.Manager{Catalog: addons.Catalog{Services: []addons.Service{{Name: "myaddon", ConfigPrefix: "MYADDON",
		Plans: []addons.Plan{{Name: "basic"}}, Provider: c}}}, Config: cfg}
	_, err := m.Create(ctx(t), addons.CreateRequest{App: "shop", Plan: "myaddon"})
	if !errors.Is(err, addons.ErrInvalid) || !strings.Contains(err.Error(), `"MYADDON-HOST" may contain only letters, digits and '_'`) {
		t.Fatalf("Create = %v", err)
	}
	if mem.Len() != 0 {
		t.Errorf("the refused resource was not deprovisioned over HTTP (%d left)", mem.Len())
	}
	if len(cfg.Releases("shop")) != 0 {
		t.Error("app config changed")
	}
}

func TestCallbackEndpoint(t *testing.T) {
	c := &partner.Client{CallbackBase: "http://platform.example/cb"}
	call := func(method, path, token, body string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	if s := call("PATCH", "/cb/addons/unknown/config", "t", `{"config":[]}`); s != 401 {
		t.Errorf("unknown uuid: %d", s)
	}
	if s := call("POST", "/cb/elsewhere", "", ``); s != 404 {
		t.Errorf("unknown path: %d", s)
	}
	// A provision in flight gives the provider a token; capture it.
	var grant partner.ProvisionBody
	var mu sync.Mutex
	got := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		grant, _ = partner.DecodeProvision(r.Body)
		mu.Unlock()
		close(got)
		w.WriteHeader(202)
		_, _ = io.WriteString(w, `{"id":"res-1"}`)
	}))
	defer srv.Close()
	c.BaseURL, c.ID, c.Password = srv.URL, "x", "y"
	done := make(chan error, 1)
	var res addons.Resource
	go func() {
		var err error
		res, err = c.Provision(ctx(t), addons.ProvisionRequest{ID: "u-1", Plan: "basic"})
		done <- err
	}()
	<-got
	mu.Lock()
	token := grant.OAuthGrant.Code
	cb := grant.CallbackURL
	mu.Unlock()
	if cb != "http://platform.example/cb/addons/u-1" {
		t.Errorf("callback_url = %s", cb)
	}
	deadline := time.Now().Add(10 * time.Second)
	for call("PATCH", "/cb/addons/u-1/config", token, `{"config":[]}`) != 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the 202 may not be processed yet
	}
	if s := call("PATCH", "/cb/addons/u-1/config", "wrong", `{"config":[]}`); s != 401 {
		t.Errorf("wrong token: %d", s)
	}
	if s := call("PATCH", "/cb/addons/u-1/config", token, `{"config":[{"name":"BAD-NAME","value":"x"}]}`); s != 422 {
		t.Errorf("invalid var name: %d", s)
	}
	if s := call("PATCH", "/cb/addons/u-1/config", token, `{"config":[{"name":"MYADDON_URL","value":"https://x"}]}`); s != 200 {
		t.Errorf("config update: %d", s)
	}
	if s := call("POST", "/cb/addons/u-1/actions/provision", token, `{}`); s != 200 {
		t.Errorf("provision done: %d", s)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.ID != "res-1" || res.Config["MYADDON_URL"] != "https://x" {
		t.Errorf("async resource %s %v", res.ID, res.Config.Names())
	}
	if s := call("POST", "/cb/addons/u-1/actions/provision", token, `{}`); s != 401 {
		t.Errorf("callback after completion: %d", s)
	}
}

func TestWireGolden(t *testing.T) {
	body := partner.ProvisionBody{
		UUID: "01234567-89ab-cdef-0123-456789abcdef", Name: "acme-inc-primary-database", Plan: "basic",
		Region: "amazon-web-services::us-east-1", CallbackURL: "https://platform.example/addons/01234567-89ab-cdef-0123-456789abcdef",
		Options: map[string]string{"foo": "bar", "baz": "true"}, LogInputURL: "https://token:t.01234567@logs.example/logs",
		OAuthGrant: &partner.OAuthGrant{Code: "c0de", ExpiresAt: "2016-03-03T18:01:31-08:00", Type: "authorization_code"},
	}
	var out bytes.Buffer
	for _, v := range []any{body,
		partner.ProvisionResponse{ID: "res-1", Config: map[string]string{"MYADDON_URL": "https://x"}, Message: "ok"},
		partner.ProvisionResponse{ID: "01234567-89ab-cdef-0123-456789abcdef", Message: "provisioning"},
		partner.PlanChangeBody{Plan: "premium"},
		partner.ErrorBody{Message: "plan not found", Code: partner.CodeUnknownPlan},
		partner.ConfigUpdate{Config: []partner.ConfigVar{{Name: "MYADDON_URL", Value: "https://x"}}},
	} {
		data, _ := json.MarshalIndent(v, "", "  ")
		out.Write(data)
		out.WriteByte('\n')
	}
	checkGolden(t, "wire.golden", out.Bytes())
	// The documented example body from heroku.md §8.3 decodes.
	doc, err := os.ReadFile(filepath.Join("testdata", "heroku_provision_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := partner.DecodeProvision(bytes.NewReader(doc))
	if err != nil || got.UUID != "01234567-89ab-cdef-0123-456789abcdef" || got.Options["baz"] != "true" || got.OAuthGrant.Type != "authorization_code" {
		t.Fatalf("decode documented example: %+v, %v", got, err)
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name), got, *update)
}

func FuzzDecodeProvision(f *testing.F) {
	for _, s := range []string{`{"uuid":"u","plan":"p"}`, `{"uuid":5}`, `[]`, `null`, `{"uuid":"u","plan":"p","options":{"a":1}}`, `{"uuid":"u","plan":"p","extra":{"x":[1,2]}}`, ""} {
		f.Add([]byte(s))
	}
	if doc, err := os.ReadFile(filepath.Join("testdata", "heroku_provision_example.json")); err == nil {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := partner.DecodeProvision(bytes.NewReader(data))
		if err != nil {
			var re *partner.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if strings.TrimSpace(b.UUID) == "" || b.Plan == "" {
			t.Fatalf("accepted a body without uuid or plan: %+v", b)
		}
		again, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := partner.DecodeProvision(bytes.NewReader(again))
		if err != nil || b2.UUID != b.UUID || b2.Plan != b.Plan || len(b2.Options) != len(b.Options) {
			t.Fatalf("round trip changed the body: %+v → %+v (%v)", b, b2, err)
		}
	})
}

func FuzzDecodeConfigUpdate(f *testing.F) {
	for _, s := range []string{`{"config":[{"name":"A_URL","value":"x"}]}`, `{"config":[{"value":"x"}]}`, `{"config":{}}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := partner.DecodeConfigUpdate(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, v := range u.Config {
			if v.Name == "" {
				t.Fatal("accepted a config var without a name")
			}
		}
	})
}

func BenchmarkProvisionOverHTTP(b *testing.B) {
	h := &partner.Handler{Provider: addonstest.NewMemProvider("MYADDON", "basic"), ID: manifestID, Password: manifestPW}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := &partner.Client{BaseURL: srv.URL, ID: manifestID, Password: manifestPW, HTTPClient: srv.Client()}
	i := 0
	for b.Loop() {
		i++
		res, err := c.Provision(context.Background(), addons.ProvisionRequest{ID: fmt.Sprint(i), Plan: "basic"})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Deprovision(context.Background(), res.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// asyncOnlyProvider answers every provision with 202 and never calls back;
// it records the requests it gets and answers DELETE with deleteStatus.
type asyncOnlyProvider struct {
	mu           sync.Mutex
	requests     []string
	deleteStatus int
}

func (p *asyncOnlyProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests = append(p.requests, r.Method+" "+r.URL.Path)
	status := p.deleteStatus
	p.mu.Unlock()
	if r.Method == http.MethodDelete {
		w.WriteHeader(status)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"id":"res-1","message":"later"}`)
}

func (p *asyncOnlyProvider) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// A provision the platform cannot finish (202 without a callback base, or
// no callback before the Manager's timeout) is deleted at the provider, as
// Heroku deletes it, instead of being left behind; a provider that
// deprovisions asynchronously (202) has deprovisioned.
func TestUnfinishedAsyncProvisionIsDeleted(t *testing.T) {
	for _, callbacks := range []bool{false, true} {
		t.Run(fmt.Sprintf("callbacks=%v", callbacks), func(t *testing.T) {
			prov := &asyncOnlyProvider{deleteStatus: http.StatusNoContent}
			srv := httptest.NewServer(prov)
			defer srv.Close()
			c := &partner.Client{BaseURL: srv.URL, ID: "x", Password: "y", PollInterval: time.Hour}
			if callbacks {
				withCallbacks(t, c)
			}
			m := &addons.Manager{Catalog: addons.Catalog{Services: []addons.Service{{Name: "slow", ConfigPrefix: "SLOW",
				Plans: []addons.Plan{{Name: "basic"}}, Provider: c}}}, Config: &addonstest.MemConfig{}, Timeout: 300 * time.Millisecond}
			if _, err := m.Create(ctx(t), addons.CreateRequest{App: "shop", Plan: "slow"}); err == nil {
				t.Fatal("Create succeeded")
			}
			if got, want := prov.seen(), []string{"POST /heroku/resources", "DELETE /heroku/resources/res-1"}; !slices.Equal(got, want) {
				t.Errorf("the provider got %q, want %q", got, want)
			}
		})
	}
	// DELETE answered 202: deprovisioning under way at the provider.
	prov := &asyncOnlyProvider{deleteStatus: http.StatusAccepted}
	srv := httptest.NewServer(prov)
	defer srv.Close()
	c := &partner.Client{BaseURL: srv.URL, ID: "x", Password: "y"}
	if err := c.Deprovision(ctx(t), "res-1"); err != nil {
		t.Errorf("Deprovision answered 202: %v", err)
	}
}
