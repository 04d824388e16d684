package sealed_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/memstore"
	"github.com/dynokit/dynokit/release/releasetest"
	"github.com/dynokit/dynokit/release/sealed"
)

func TestBox(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	old, err := sealed.NewBox([]sealed.Key{oldKey})
	if err != nil {
		t.Fatal(err)
	}
	box, err := sealed.NewBox([]sealed.Key{newKey, oldKey})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI…\n"
	sealedText := box.Seal("cert/1/key", []byte(secret))
	if !strings.HasPrefix(sealedText, sealed.Prefix+"v1:"+newKey.ID+":") || strings.Contains(sealedText, "PRIVATE") {
		t.Fatalf("Seal = %q", sealedText)
	}
	if again := box.Seal("cert/1/key", []byte(secret)); again == sealedText {
		t.Error("sealing twice gave the same text")
	}
	if got, err := box.Open("cert/1/key", sealedText); err != nil || string(got) != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Rotation: what the old key sealed opens with the new list.
	if got, err := box.Open("hook/2/secret", old.Seal("hook/2/secret", []byte("s3"))); err != nil || string(got) != "s3" {
		t.Errorf("Open of an old key's secret = %q, %v", got, err)
	}
	// Plaintext from before sealing passes through.
	if got, err := box.Open("cert/1/key", secret); err != nil || string(got) != secret {
		t.Errorf("Open of plaintext = %q, %v", got, err)
	}

	fails := []struct {
		name, label, stored string
		reason              sealed.Reason
	}{
		{"moved to another label", "cert/2/key", sealedText, sealed.ReasonNotAuthentic},
		{"altered", "cert/1/key", sealedText[:len(sealedText)-2] + "AA", sealed.ReasonNotAuthentic},
		{"truncated", "cert/1/key", sealedText[:len(sealed.Prefix)+20], sealed.ReasonMalformed},
		{"unknown key", "cert/1/key", box.Seal("cert/1/key", []byte(secret)), sealed.ReasonUnknownKey},
	}
	for _, f := range fails {
		opener := box
		if f.reason == sealed.ReasonUnknownKey {
			opener = old // lacks the new key
		}
		_, err := opener.Open(f.label, f.stored)
		var oe *sealed.OpenError
		if !errors.As(err, &oe) || oe.Reason != f.reason || !errors.Is(err, sealed.ErrCannotOpen) {
			t.Errorf("%s: Open = %v, want reason %q", f.name, err, f.reason)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, `secret "`+f.label+`"`) || strings.Contains(msg, "PRIVATE") || strings.Contains(msg, f.stored) {
			t.Errorf("%s: error %q should name the label and nothing of the secret", f.name, msg)
		}
	}
	if _, err := sealed.NewBox(nil); err == nil {
		t.Error("NewBox without keys: no error")
	}
}

// A config var value and a Box secret never open as each other, even
// under the same name.
func TestBoxAndConfigVarsAreApart(t *testing.T) {
	ctx := context.Background()
	key := newKey(t)
	box, err := sealed.NewBox([]sealed.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	backend := memstore.New()
	s, err := sealed.New(backend, []sealed.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	r := releasetest.Sample(1)
	r.Config = release.ConfigVars{"TOKEN": "v"}
	if _, err := s.Append(ctx, "a", r, 0); err != nil {
		t.Fatal(err)
	}
	raw, err := backend.Get(ctx, "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := box.Open("TOKEN", raw.Config["TOKEN"]); !errors.Is(err, sealed.ErrCannotOpen) {
		t.Errorf("a config var value opened as a Box secret: %v", err)
	}
	r2 := releasetest.Sample(2)
	r2.Config = release.ConfigVars{"TOKEN": "plain"}
	if _, err := backend.Append(ctx, "a", r2, 1); err != nil {
		t.Fatal(err)
	}
	r3 := releasetest.Sample(3)
	r3.Config = release.ConfigVars{"TOKEN": box.Seal("TOKEN", []byte("v"))}
	if _, err := backend.Append(ctx, "a", r3, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a", 3); !errors.Is(err, sealed.ErrCannotOpen) {
		t.Errorf("a Box secret opened as a config var value: %v", err)
	}
}

func FuzzBoxOpen(f *testing.F) {
	box, _ := sealed.NewBox([]sealed.Key{fuzzKey})
	good := box.Seal("label", []byte("secret"))
	f.Add("label", good)
	f.Add("other", good)
	f.Add("label", good[:len(good)-3])
	f.Add("label", "dk-sealed:v1:"+fuzzKey.ID+":")
	f.Add("", "plain")
	f.Fuzz(func(t *testing.T, label, stored string) {
		got, err := box.Open(label, stored)
		if err != nil {
			var oe *sealed.OpenError
			if !errors.As(err, &oe) || oe.Var != label {
				t.Fatalf("error %v is not an *OpenError for the label", err)
			}
			return
		}
		if !strings.HasPrefix(stored, sealed.Prefix) && string(got) != stored {
			t.Fatalf("plaintext %q opened as %q", stored, got)
		}
		// Whatever opens seals and opens again under its label.
		back, err := box.Open(label, box.Seal(label, got))
		if err != nil || string(back) != string(got) {
			t.Fatalf("round trip of %q: %q, %v", got, back, err)
		}
	})
}
