package sealed_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/memstore"
	"github.com/dynokit/dynokit/release/releasetest"
	"github.com/dynokit/dynokit/release/sealed"
)

// FuzzParseKeys: any text parses to well-formed keys or fails with a
// *KeyError naming a line of the text, without panicking; the keys
// written back parse to the same keys.
func FuzzParseKeys(f *testing.F) {
	f.Add(std(secretA))
	f.Add(std(secretA) + "\n" + rawURL(secretB) + " # old\n")
	f.Add("# none\n\n")
	f.Add(std(secretA) + "\n" + url(secretA))
	f.Add(std(secretA[:31]) + "\r\n")
	f.Add("a b\n=\n====\n\x00\xff")
	f.Fuzz(func(t *testing.T, text string) {
		keys, err := sealed.ParseKeys(text)
		if err != nil {
			var ke *sealed.KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("error %v is not a *KeyError", err)
			}
			if lines := strings.Count(text, "\n") + 1; ke.Line < 0 || ke.Line > lines || (ke.Line == 0) != (ke.Rule == sealed.RuleKeyNone) {
				t.Fatalf("error %+v for a text of %d lines", *ke, lines)
			}
			if keys != nil {
				t.Fatal("keys returned with an error")
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		var back strings.Builder
		seen := map[string]bool{}
		for _, k := range keys {
			if len(k.Secret) != sealed.KeySize || k.ID != sealed.KeyID(k.Secret) || seen[k.ID] {
				t.Fatalf("bad key %v", k)
			}
			seen[k.ID] = true
			back.WriteString(base64.RawURLEncoding.EncodeToString(k.Secret) + "\n")
		}
		again, err := sealed.ParseKeys(back.String())
		if err != nil || len(again) != len(keys) {
			t.Fatalf("keys written back: %d, %v", len(again), err)
		}
		for i := range keys {
			if again[i].ID != keys[i].ID || !bytes.Equal(again[i].Secret, keys[i].Secret) {
				t.Fatalf("key %d differs when written back", i)
			}
		}
		if _, err := sealed.New(memstore.New(), keys); err != nil {
			t.Fatalf("New refuses parsed keys: %v", err)
		}
	})
}

var fuzzKey = sealed.Key{ID: sealed.KeyID(secretB), Secret: secretB}

// FuzzOpen: whatever text the backend holds as a value, reading it never
// panics; it is either returned unchanged (no prefix), or fails with an
// *OpenError that names its place and does not contain the text. (A
// forged value that opens would be a GCM forgery: the fuzzer cannot find
// one, and the test fails if it does.)
func FuzzOpen(f *testing.F) {
	ctx := f.Context()
	genuine := func(app string, v int, name, value string) string {
		scratch := memstore.New()
		s, _ := sealed.New(scratch, []sealed.Key{fuzzKey})
		for i := 1; i <= v; i++ {
			r := releasetest.Sample(i)
			r.Config = release.ConfigVars{name: value}
			s.Append(ctx, app, r, i-1)
		}
		raw, _ := scratch.Get(ctx, app, v)
		return raw.Config[name]
	}
	good := genuine("app", 1, "TOKEN", "secret value")
	f.Add(good)
	f.Add(good[:30] + "\n" + good[30:])
	f.Add(genuine("app", 2, "TOKEN", "secret value"))
	f.Add(genuine("other", 1, "TOKEN", ""))
	f.Add(strings.Replace(good, "v1", "v2", 1))
	f.Add(good[:len(good)-5])
	f.Add("dk-sealed:")
	f.Add("dk-sealed:v1:")
	f.Add("dk-sealed:v1::")
	f.Add("dk-sealed:v1:" + fuzzKey.ID + ":")
	f.Add("plain value")
	f.Add("")
	f.Fuzz(func(t *testing.T, stored string) {
		backend := memstore.New()
		r := releasetest.Sample(1)
		r.Config = release.ConfigVars{"TOKEN": stored}
		if _, err := backend.Append(ctx, "app", r, 0); err != nil {
			t.Fatal(err)
		}
		s, err := sealed.New(backend, []sealed.Key{fuzzKey})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "app", 1)
		if !strings.HasPrefix(stored, sealed.Prefix) {
			if err != nil || got.Config["TOKEN"] != stored {
				t.Fatalf("plaintext value: %v", err)
			}
			return
		}
		if err == nil {
			// Only a value sealed for this place opens: the first seed
			// (sealed again, with another nonce, in each fuzz worker).
			if got.Config["TOKEN"] == "secret value" && strings.HasPrefix(stored, "dk-sealed:v1:"+fuzzKey.ID+":") {
				return
			}
			t.Fatalf("a value not sealed for this place opened: %q", stored)
		}
		var oe *sealed.OpenError
		if !errors.As(err, &oe) || oe.App != "app" || oe.Version != 1 || oe.Var != "TOKEN" {
			t.Fatalf("error %v", err)
		}
		if strings.Contains(err.Error(), stored) || strings.Contains(err.Error(), sealed.Prefix) {
			t.Fatalf("error %q shows the stored value", err)
		}
	})
}

// FuzzRoundTrip: any value under any name of any valid app reads back
// unchanged, and the backend holds it sealed.
func FuzzRoundTrip(f *testing.F) {
	ctx := f.Context()
	f.Add("app", "TOKEN", "secret value")
	f.Add("münchen", "", "")
	f.Add("a", "dk-sealed:v1:x:y", "dk-sealed:v1:x:y")
	f.Add("b", "\x00", "\xff\xfe")
	f.Fuzz(func(t *testing.T, app, name, value string) {
		if release.ValidateApp(app) != nil {
			return
		}
		backend := memstore.New()
		s, err := sealed.New(backend, []sealed.Key{fuzzKey})
		if err != nil {
			t.Fatal(err)
		}
		r := releasetest.Sample(1)
		r.Config = release.ConfigVars{name: value}
		if out, err := s.Append(ctx, app, r, 0); err != nil || out.Config[name] != value {
			t.Fatalf("Append: %v", err)
		}
		got, err := s.Latest(ctx, app)
		if err != nil || got.Config[name] != value {
			t.Fatalf("Latest: %v", err)
		}
		raw, _ := backend.Latest(ctx, app)
		if v := raw.Config[name]; !strings.HasPrefix(v, sealed.Prefix+"v1:"+fuzzKey.ID+":") {
			t.Fatalf("backend holds %q", v)
		}
	})
}
