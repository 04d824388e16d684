package sealed_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/boltstore"
	"github.com/dynokit/dynokit/release/memstore"
	"github.com/dynokit/dynokit/release/releasetest"
	"github.com/dynokit/dynokit/release/sealed"
)

var ctx = context.Background()

// newKey returns a fresh random key with its derived ID.
func newKey(t testing.TB) sealed.Key {
	t.Helper()
	secret := make([]byte, sealed.KeySize)
	rand.Read(secret)
	return sealed.Key{ID: sealed.KeyID(secret), Secret: secret}
}

func mustNew(t testing.TB, backend release.Store, keys ...sealed.Key) release.Store {
	t.Helper()
	s, err := sealed.New(backend, keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// plainOnly hides every method of its Store but the interface's, so that
// it does not implement release.AppDeleter.
type plainOnly struct{ release.Store }

func TestConformanceMemstore(t *testing.T) {
	releasetest.StoreSuite(t, func(t *testing.T) release.Store {
		return mustNew(t, memstore.New(), newKey(t), newKey(t))
	})
}

func TestConformanceWithoutAppDeleter(t *testing.T) {
	releasetest.StoreSuite(t, func(t *testing.T) release.Store {
		return mustNew(t, plainOnly{memstore.New()}, newKey(t))
	})
}

func TestConformanceBoltstore(t *testing.T) {
	releasetest.StoreSuite(t, func(t *testing.T) release.Store {
		b, err := boltstore.Open(ctx, filepath.Join(t.TempDir(), "releases.db"), boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return mustNew(t, b, newKey(t))
	})
}

func TestAppDeleterOnlyWhenTheBackendHasIt(t *testing.T) {
	key := newKey(t)
	with := mustNew(t, memstore.New(), key)
	d, ok := with.(release.AppDeleter)
	if !ok {
		t.Fatal("sealed.New(memstore) does not implement release.AppDeleter")
	}
	if _, err := with.Append(ctx, "app", releasetest.Sample(1), 0); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := with.Latest(ctx, "app"); !errors.Is(err, release.ErrNotFound) {
		t.Fatalf("Latest after DeleteApp: %v, want ErrNotFound", err)
	}
	without := mustNew(t, plainOnly{memstore.New()}, key)
	if _, ok := without.(release.AppDeleter); ok {
		t.Fatal("sealed.New(a store without DeleteApp) implements release.AppDeleter")
	}
}

// rawReleases returns every release of app as the backend holds them.
func rawReleases(t *testing.T, backend release.Store, app string) []release.Release {
	t.Helper()
	rs, err := backend.List(ctx, app, release.ListOptions{Order: release.Asc, Max: release.MaxMax})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// assertAllSealed fails if any value the backend holds for app is not
// sealed, or if any of the plaintext values appears anywhere in what it
// stores (read through every read method).
func assertAllSealed(t *testing.T, backend release.Store, app string, plaintexts []string) {
	t.Helper()
	rs := rawReleases(t, backend, app)
	if len(rs) == 0 {
		t.Fatal("the backend holds no release")
	}
	for _, get := range []func() (release.Release, error){
		func() (release.Release, error) { return backend.Latest(ctx, app) },
		func() (release.Release, error) { return backend.Current(ctx, app) },
		func() (release.Release, error) { return backend.Get(ctx, app, 1) },
	} {
		if r, err := get(); err == nil {
			rs = append(rs, r)
		}
	}
	// Everything stored, but with var names (stored in plaintext by
	// design, and a value may equal a name) left out.
	var stored []any
	for _, r := range rs {
		var vals []string
		for name, v := range r.Config {
			if !strings.HasPrefix(v, sealed.Prefix+"v1:") {
				t.Errorf("backend v%d %s is not sealed (%d bytes)", r.Version, name, len(v))
			}
			vals = append(vals, v)
		}
		r.Config, r.Addons = nil, nil
		stored = append(stored, r, vals)
	}
	blob, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plaintexts {
		// Short values could occur in base64 by chance; they are
		// covered by the prefix check above.
		if len(p) >= 6 && strings.Contains(string(blob), jsonText(p)) {
			t.Errorf("the backend holds plaintext %.20q…", p)
		}
	}
}

// jsonText is p as it appears inside a JSON string.
func jsonText(p string) string {
	b, _ := json.Marshal(p)
	return string(b[1 : len(b)-1])
}

func TestBackendHoldsOnlySealedValues(t *testing.T) {
	cases := []struct {
		name   string
		config release.ConfigVars
		// write appends through the sealed store; nil appends config
		// as one succeeded release.
		write func(t *testing.T, s release.Store, config release.ConfigVars)
	}{
		{name: "sample", config: releasetest.Sample(1).Config},
		{name: "unicode and control characters", config: release.ConfigVars{"JA": "日本語の秘密 ✓", "CTRL": "line1\nline2\ttab \"quoted\" \\ back"}},
		{name: "empty and one byte", config: release.ConfigVars{"EMPTY": "", "ONE": "x"}},
		{name: "big value", config: release.ConfigVars{"BIG": strings.Repeat("secret-", 4096)}},
		{name: "value that looks sealed", config: release.ConfigVars{"TRICK": "dk-sealed:v1:deadbeef:not-really-sealed-value"}},
		{name: "value equal to its name", config: release.ConfigVars{"PASSWORD_PASSWORD": "PASSWORD_PASSWORD"}},
		{name: "twenty vars", config: twentyVars("hunter2-")},
		{name: "pending then SetStatus", config: release.ConfigVars{"TOKEN": "tok_pending_secret"}, write: func(t *testing.T, s release.Store, c release.ConfigVars) {
			r := releasetest.Sample(1)
			r.Config, r.Status = c, release.StatusPending
			if _, err := s.Append(ctx, "app", r, 0); err != nil {
				t.Fatal(err)
			}
			got, err := s.SetStatus(ctx, "app", 1, release.StatusSucceeded)
			if err != nil || !maps.Equal(got.Config, c) {
				t.Fatalf("SetStatus = %v, %v", got.Config.Names(), err)
			}
		}},
		{name: "Manager: set, rollback, add-on", config: release.ConfigVars{"A": "alpha-secret-1", "B": "bravo-secret-2", "DATABASE_URL": "postgres://u:pw-secret@db/x"}, write: func(t *testing.T, s release.Store, c release.ConfigVars) {
			m := &release.Manager{Store: s}
			if _, err := m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"A": c["A"], "B": c["B"]}}, release.Opts{}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonAttach, Name: "DATABASE", Config: map[string]string{"DATABASE_URL": c["DATABASE_URL"]}}, release.Opts{}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.SetConfig(ctx, "app", release.ConfigChange{Unset: []string{"A"}}, release.Opts{}); err != nil {
				t.Fatal(err)
			}
			r, err := m.Rollback(ctx, "app", 2, release.Opts{})
			if err != nil || r.Config["A"] != c["A"] || r.Version != 4 {
				t.Fatalf("rollback = v%d, %v", r.Version, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := memstore.New()
			s := mustNew(t, backend, newKey(t))
			if tc.write == nil {
				r := releasetest.Sample(1)
				r.Config = tc.config
				got, err := s.Append(ctx, "app", r, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(got.Config, tc.config) {
					t.Fatal("Append returned other values than were appended")
				}
			} else {
				tc.write(t, s, tc.config)
			}
			assertAllSealed(t, backend, "app", values(tc.config))
			// And the sealed store reads every release back in plaintext.
			for _, r := range rawReleases(t, backend, "app") {
				back, err := s.Get(ctx, "app", r.Version)
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(back.Config, tc.config) && tc.write == nil {
					t.Fatalf("v%d reads back other values", r.Version)
				}
				for name, v := range back.Config {
					if v != tc.config[name] {
						t.Fatalf("v%d %s reads back wrong", r.Version, name)
					}
				}
			}
		})
	}
}

func values(c release.ConfigVars) []string {
	var out []string
	for _, v := range c {
		out = append(out, v)
	}
	return out
}

func twentyVars(prefix string) release.ConfigVars {
	c := release.ConfigVars{}
	for i := range 20 {
		c[fmt.Sprintf("VAR_%02d", i)] = fmt.Sprintf("%s%02d-%s", prefix, i, strings.Repeat("v", 32))
	}
	return c
}

func TestPlaintextValuesReadBackUnchanged(t *testing.T) {
	backend := memstore.New()
	legacy := releasetest.Sample(1)
	legacy.Config["DATABASE_URL"] = "postgres://legacy:pw@db/x"
	pending := releasetest.Sample(2)
	pending.Status = release.StatusPending
	for i, r := range []release.Release{legacy, pending} {
		if _, err := backend.Append(ctx, "app", r, i); err != nil {
			t.Fatal(err)
		}
	}
	s := mustNew(t, backend, newKey(t))
	want := func(v int) release.Release {
		r := []release.Release{legacy, pending}[v-1]
		r.App, r.Version = "app", v
		return r
	}
	check := func(what string, got release.Release, err error, v int) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		w := want(v)
		got.UpdatedAt, w.UpdatedAt, got.Status, w.Status = time.Time{}, time.Time{}, "", ""
		if !releasetest.Equal(got, w) {
			t.Fatalf("%s = %+v, want %+v", what, got, w)
		}
	}
	r, err := s.Get(ctx, "app", 1)
	check("Get", r, err, 1)
	r, err = s.Current(ctx, "app")
	check("Current", r, err, 1)
	r, err = s.Latest(ctx, "app")
	check("Latest", r, err, 2)
	r, err = s.SetStatus(ctx, "app", 2, release.StatusFailed)
	check("SetStatus", r, err, 2)
	list, err := s.List(ctx, "app", release.ListOptions{})
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d, %v", len(list), err)
	}
	check("List[0]", list[0], nil, 2)
	check("List[1]", list[1], nil, 1)

	// A new release on top of the legacy history is sealed; the history
	// reads as a mix.
	next := releasetest.Sample(3)
	if _, err := s.Append(ctx, "app", next, 2); err != nil {
		t.Fatal(err)
	}
	raw, _ := backend.Get(ctx, "app", 3)
	if !strings.HasPrefix(raw.Config["GREETING"], sealed.Prefix) {
		t.Fatal("a release appended after sealing was turned on is not sealed")
	}
	if list, err = s.List(ctx, "app", release.ListOptions{}); err != nil || len(list) != 3 || list[0].Config["GREETING"] != next.Config["GREETING"] || list[2].Config["DATABASE_URL"] != "postgres://legacy:pw@db/x" {
		t.Fatalf("mixed history List = %d releases, %v", len(list), err)
	}
}

// storedKeyID returns the key ID a raw sealed value names.
func storedKeyID(t *testing.T, v string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(v, sealed.Prefix+"v1:")
	if !ok {
		t.Fatalf("value is not sealed (%d bytes)", len(v))
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

func TestRotation(t *testing.T) {
	backend := memstore.New()
	oldKey, newK := newKey(t), newKey(t)
	before := mustNew(t, backend, oldKey)
	r1 := releasetest.Sample(1)
	if _, err := before.Append(ctx, "app", r1, 0); err != nil {
		t.Fatal(err)
	}
	rotated := mustNew(t, backend, newK, oldKey)
	got, err := rotated.Get(ctx, "app", 1)
	if err != nil || !maps.Equal(got.Config, r1.Config) {
		t.Fatalf("v1 sealed with the old key after rotation: %v", err)
	}
	r2 := releasetest.Sample(2)
	if _, err := rotated.Append(ctx, "app", r2, 1); err != nil {
		t.Fatal(err)
	}
	for v, want := range map[int]string{1: oldKey.ID, 2: newK.ID} {
		raw, _ := backend.Get(ctx, "app", v)
		for name, val := range raw.Config {
			if id := storedKeyID(t, val); id != want {
				t.Errorf("v%d %s sealed with key %s, want %s", v, name, id, want)
			}
		}
	}
	list, err := rotated.List(ctx, "app", release.ListOptions{})
	if err != nil || len(list) != 2 || !maps.Equal(list[0].Config, r2.Config) || !maps.Equal(list[1].Config, r1.Config) {
		t.Fatalf("List across keys: %v", err)
	}

	// The old key dropped: v2 opens, v1 names the missing key.
	dropped := mustNew(t, backend, newK)
	if _, err := dropped.Get(ctx, "app", 2); err != nil {
		t.Fatal(err)
	}
	_, err = dropped.Get(ctx, "app", 1)
	var oe *sealed.OpenError
	if !errors.As(err, &oe) || oe.Reason != sealed.ReasonUnknownKey || oe.KeyID != oldKey.ID || oe.Version != 1 {
		t.Fatalf("v1 after its key was dropped: %v", err)
	}
	if _, err := dropped.List(ctx, "app", release.ListOptions{}); !errors.As(err, &oe) {
		t.Fatalf("List with a release whose key was dropped: %v", err)
	}
	// Going back to the old key alone: v2 cannot open.
	if _, err := before.Get(ctx, "app", 2); !errors.As(err, &oe) || oe.KeyID != newK.ID {
		t.Fatalf("v2 without its key: %v", err)
	}
}

// sealedValue returns the sealed text s stores for var name of app's
// version v, by appending through s to a scratch backend.
func sealedValue(t *testing.T, key sealed.Key, app string, v int, name, value string) string {
	t.Helper()
	scratch := memstore.New()
	s := mustNew(t, scratch, key)
	for i := 1; i <= v; i++ {
		r := releasetest.Sample(i)
		r.Config = release.ConfigVars{name: value}
		if _, err := s.Append(ctx, app, r, i-1); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := scratch.Get(ctx, app, v)
	if err != nil {
		t.Fatal(err)
	}
	return raw.Config[name]
}

// editPayload decodes the payload of sealed value v, edits it and encodes
// it again, so that the edit reaches GCM rather than the base64 decoder.
func editPayload(t *testing.T, v string, edit func([]byte) []byte) string {
	t.Helper()
	i := strings.LastIndexByte(v, ':') + 1
	ct, err := base64.RawURLEncoding.DecodeString(v[i:])
	if err != nil {
		t.Fatal(err)
	}
	return v[:i] + base64.RawURLEncoding.EncodeToString(edit(ct))
}

func flipBit(i int) func([]byte) []byte {
	return func(b []byte) []byte {
		b[(i+len(b))%len(b)] ^= 1
		return b
	}
}

func TestOpenFailures(t *testing.T) {
	const secret = "s3cr3t-value-that-must-not-leak"
	key, other := newKey(t), newKey(t)
	good := sealedValue(t, key, "app", 2, "TOKEN", secret)
	if !strings.HasPrefix(good, sealed.Prefix) {
		t.Fatal("not sealed")
	}
	sameIDWrongSecret := sealed.Key{ID: key.ID, Secret: other.Secret}
	cases := []struct {
		name   string
		keys   []sealed.Key
		stored string // placed at app v2 TOKEN
		reason sealed.Reason
		keyID  string
	}{
		{"control: opens", []sealed.Key{key}, good, "", ""},
		{"wrong key under the same ID", []sealed.Key{sameIDWrongSecret}, good, sealed.ReasonNotAuthentic, key.ID},
		{"unknown key ID", []sealed.Key{other}, good, sealed.ReasonUnknownKey, key.ID},
		{"tampered nonce", []sealed.Key{key}, editPayload(t, good, flipBit(0)), sealed.ReasonNotAuthentic, key.ID},
		{"tampered ciphertext", []sealed.Key{key}, editPayload(t, good, flipBit(15)), sealed.ReasonNotAuthentic, key.ID},
		{"tampered tag", []sealed.Key{key}, editPayload(t, good, flipBit(-1)), sealed.ReasonNotAuthentic, key.ID},
		{"truncated", []sealed.Key{key}, editPayload(t, good, func(b []byte) []byte { return b[:len(b)-4] }), sealed.ReasonNotAuthentic, key.ID},
		{"extended", []sealed.Key{key}, editPayload(t, good, func(b []byte) []byte { return append(b, 0) }), sealed.ReasonNotAuthentic, key.ID},
		{"non-canonical base64", []sealed.Key{key}, good[:len(good)-1] + "_", sealed.ReasonMalformed, key.ID},
		{"newline in the payload", []sealed.Key{key}, good[:30] + "\r\n" + good[30:], sealed.ReasonMalformed, key.ID},
		{"too short for a tag", []sealed.Key{key}, "dk-sealed:v1:" + key.ID + ":AAAA", sealed.ReasonMalformed, key.ID},
		{"bad base64", []sealed.Key{key}, good + "!", sealed.ReasonMalformed, key.ID},
		{"key ID edited", []sealed.Key{key, other}, strings.Replace(good, key.ID, other.ID, 1), sealed.ReasonNotAuthentic, other.ID},
		{"unknown format version", []sealed.Key{key}, strings.Replace(good, ":v1:", ":v2:", 1), sealed.ReasonMalformed, ""},
		{"no key ID", []sealed.Key{key}, "dk-sealed:v1:", sealed.ReasonMalformed, ""},
		{"moved from another var", []sealed.Key{key}, sealedValue(t, key, "app", 2, "OTHER", secret), sealed.ReasonNotAuthentic, key.ID},
		{"moved from another app", []sealed.Key{key}, sealedValue(t, key, "ppa", 2, "TOKEN", secret), sealed.ReasonNotAuthentic, key.ID},
		{"moved from another version", []sealed.Key{key}, sealedValue(t, key, "app", 1, "TOKEN", secret), sealed.ReasonNotAuthentic, key.ID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := memstore.New()
			for v := 1; v <= 2; v++ {
				r := releasetest.Sample(v)
				r.Status = release.StatusPending
				r.Config = release.ConfigVars{"PLAIN": "legacy"}
				if v == 2 {
					r.Config["TOKEN"] = tc.stored
				}
				if _, err := backend.Append(ctx, "app", r, v-1); err != nil {
					t.Fatal(err)
				}
			}
			s := mustNew(t, backend, tc.keys...)
			calls := map[string]func() error{
				"Get": func() error { _, err := s.Get(ctx, "app", 2); return err },
				"Latest": func() error {
					_, err := s.Latest(ctx, "app")
					return err
				},
				"List": func() error {
					_, err := s.List(ctx, "app", release.ListOptions{})
					return err
				},
				"SetStatus": func() error {
					_, err := s.SetStatus(ctx, "app", 2, release.StatusSucceeded)
					return err
				},
				"Current": func() error { _, err := s.Current(ctx, "app"); return err }, // after SetStatus
			}
			for _, method := range []string{"Get", "Latest", "List", "SetStatus", "Current"} {
				err := calls[method]()
				if tc.reason == "" {
					if err != nil {
						t.Fatalf("%s: %v", method, err)
					}
					got, _ := s.Get(ctx, "app", 2)
					if got.Config["TOKEN"] != secret {
						t.Fatalf("%s: the control value does not read back", method)
					}
					continue
				}
				var oe *sealed.OpenError
				if !errors.As(err, &oe) || !errors.Is(err, sealed.ErrCannotOpen) {
					t.Fatalf("%s: %v, want an *OpenError wrapping ErrCannotOpen", method, err)
				}
				want := sealed.OpenError{App: "app", Version: 2, Var: "TOKEN", KeyID: tc.keyID, Reason: tc.reason}
				if *oe != want {
					t.Errorf("%s: %+v, want %+v", method, *oe, want)
				}
				msg := err.Error()
				for _, part := range []string{`"app"`, "v2", `"TOKEN"`, string(tc.reason)} {
					if !strings.Contains(msg, part) {
						t.Errorf("%s: error %q does not name %s", method, msg, part)
					}
				}
				if strings.Contains(msg, secret) || strings.Contains(msg, tc.stored) || strings.Contains(msg, "dk-sealed") {
					t.Errorf("%s: error %q shows the value", method, msg)
				}
				if payload := tc.stored[strings.LastIndexByte(tc.stored, ':')+1:]; len(payload) > 8 && strings.Contains(msg, payload) {
					t.Errorf("%s: error %q shows the sealed payload", method, msg)
				}
			}
		})
	}
}

func TestOpenErrorNamesTheFirstVarByName(t *testing.T) {
	backend := memstore.New()
	r := releasetest.Sample(1)
	r.Config = release.ConfigVars{}
	for _, name := range []string{"M", "C", "Z", "D", "Q"} {
		r.Config[name] = "dk-sealed:v9:bad"
	}
	if _, err := backend.Append(ctx, "app", r, 0); err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, backend, newKey(t))
	for range 20 {
		_, err := s.Get(ctx, "app", 1)
		var oe *sealed.OpenError
		if !errors.As(err, &oe) || oe.Var != "C" {
			t.Fatalf("Get = %v, want the error for C", err)
		}
	}
}

// leaky returns the very maps it holds, as a careless backend might.
type leaky struct {
	release.Store
	held release.Release
}

func (l *leaky) Append(ctx context.Context, app string, r release.Release, expect int) (release.Release, error) {
	r.App, r.Version = app, expect+1
	l.held = r
	return l.held, nil
}
func (l *leaky) Get(context.Context, string, int) (release.Release, error) { return l.held, nil }

func TestReleasesDoNotShareTheBackendsMaps(t *testing.T) {
	l := &leaky{Store: memstore.New()}
	s := mustNew(t, l, newKey(t))
	in := releasetest.Sample(1)
	got, err := s.Append(ctx, "app", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	in.ProcessTypes["web"] = "mutated input"
	in.Addons["DATABASE"][0] = "MUTATED_INPUT"
	got.ProcessTypes["web"] = "mutated output"
	got.Addons["DATABASE"][0] = "MUTATED_OUTPUT"
	got.Config["GREETING"] = "mutated output"
	back, err := s.Get(ctx, "app", 1)
	if err != nil {
		t.Fatal(err)
	}
	back.ProcessTypes["worker"] = "mutated get"
	back.Addons["DATABASE"] = nil
	back.Config["EMPTY"] = "mutated get"
	want := releasetest.Sample(1)
	want.App, want.Version = "app", 1
	if again, _ := s.Get(ctx, "app", 1); !releasetest.Equal(again, want) {
		t.Fatalf("callers share maps with the backend: %+v", again)
	}
	if !maps.Equal(l.held.ProcessTypes, want.ProcessTypes) || l.held.Addons["DATABASE"][0] != "DATABASE_URL" {
		t.Fatalf("the backend's maps were changed by callers: %+v", l.held)
	}
}

func TestNewRefuses(t *testing.T) {
	k := newKey(t)
	cases := []struct {
		name    string
		backend release.Store
		keys    []sealed.Key
		want    string
	}{
		{"nil backend", nil, []sealed.Key{k}, "backend store is nil"},
		{"no keys", memstore.New(), nil, "no keys"},
		{"short secret", memstore.New(), []sealed.Key{{ID: "k1", Secret: make([]byte, 16)}}, "secret is 16 bytes, want 32"},
		{"empty ID", memstore.New(), []sealed.Key{{ID: "", Secret: k.Secret}}, "ID"},
		{"colon in ID", memstore.New(), []sealed.Key{{ID: "a:b", Secret: k.Secret}}, "ID"},
		{"ID too long", memstore.New(), []sealed.Key{{ID: strings.Repeat("a", 65), Secret: k.Secret}}, "ID"},
		{"duplicate ID", memstore.New(), []sealed.Key{k, {ID: k.ID, Secret: newKey(t).Secret}}, "used twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sealed.New(tc.backend, tc.keys)
			if err == nil || s != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error containing %q", s, err, tc.want)
			}
		})
	}
	// Chosen IDs work.
	if _, err := sealed.New(memstore.New(), []sealed.Key{{ID: "2026-03_prod", Secret: k.Secret}}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	k := newKey(t)
	k.Secret = []byte(strings.Repeat("S", 32))
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("key", "key", k)
	slog.New(slog.NewTextHandler(&log, nil)).Info("key", "key", k, "keys", []sealed.Key{k})
	for _, out := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x %X %q %d", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", []sealed.Key{k}, &k, map[string]sealed.Key{"a": k}),
		log.String(),
	} {
		if strings.Contains(out, "SSSS") || strings.Contains(out, "5353") || strings.Contains(out, "U1NT") || strings.Contains(out, "83 83") {
			t.Errorf("a key printed its secret: %s", out)
		}
		if !strings.Contains(out, k.ID) {
			t.Errorf("a key printed without its ID: %s", out)
		}
	}
}

// Values written through one sealed store open through another with the
// same keys, after the backend was closed and opened again (a restart).
func TestReopenWithTheSameKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "releases.db")
	keys, err := sealed.ParseKeys(mustKeyText(t) + "\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := boltstore.Open(ctx, path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &release.Manager{Store: mustNew(t, b, keys...)}
	if _, err := m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"SECRET": "across-restarts"}}, release.Opts{}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = boltstore.Open(ctx, path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := mustNew(t, b, keys...).Current(ctx, "app")
	if err != nil || r.Config["SECRET"] != "across-restarts" {
		t.Fatalf("after reopen: %v", err)
	}
	raw, _ := b.Current(ctx, "app")
	if storedKeyID(t, raw.Config["SECRET"]) != keys[0].ID {
		t.Fatal("stored with another key")
	}
}

func mustKeyText(t *testing.T) string {
	t.Helper()
	k, err := sealed.NewKeyText()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// swapping returns, from Append, the release it stored with two values
// exchanged, as a faulty backend might.
type swapping struct{ release.Store }

func (s swapping) Append(ctx context.Context, app string, r release.Release, expect int) (release.Release, error) {
	out, err := s.Store.Append(ctx, app, r, expect)
	out.Config["A"], out.Config["B"] = out.Config["B"], out.Config["A"]
	return out, err
}

func TestAppendOpensWhatTheBackendReturns(t *testing.T) {
	s := mustNew(t, swapping{memstore.New()}, newKey(t))
	r := releasetest.Sample(1)
	r.Config = release.ConfigVars{"A": "alpha-secret", "B": "bravo-secret"}
	_, err := s.Append(ctx, "app", r, 0)
	var oe *sealed.OpenError
	if !errors.As(err, &oe) || oe.Var != "A" || oe.Version != 1 || oe.Reason != sealed.ReasonNotAuthentic {
		t.Fatalf("Append of a backend that returns other values: %v", err)
	}
	if got, err := s.Get(ctx, "app", 1); err != nil || got.Config["A"] != "alpha-secret" {
		t.Fatalf("the stored release: %v", err)
	}
}
