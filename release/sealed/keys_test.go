package sealed_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/release/sealed"
)

var (
	secretA = bytes.Repeat([]byte{0xfb}, 32) // encodes with '+' '/' or '-' '_'
	secretB = []byte("0123456789abcdef0123456789abcdef")
	std     = base64.StdEncoding.EncodeToString
	rawStd  = base64.RawStdEncoding.EncodeToString
	url     = base64.URLEncoding.EncodeToString
	rawURL  = base64.RawURLEncoding.EncodeToString
)

func TestParseKeys(t *testing.T) {
	ok := func(secrets ...[]byte) []sealed.Key {
		var ks []sealed.Key
		for _, s := range secrets {
			ks = append(ks, sealed.Key{ID: sealed.KeyID(s), Secret: s})
		}
		return ks
	}
	cases := []struct {
		name string
		text string
		want []sealed.Key
		err  *sealed.KeyError
	}{
		{"one std key", std(secretA), ok(secretA), nil},
		{"raw std", rawStd(secretA), ok(secretA), nil},
		{"url", url(secretA), ok(secretA), nil},
		{"raw url", rawURL(secretA), ok(secretA), nil},
		{"order kept: first seals", std(secretB) + "\n" + rawURL(secretA), ok(secretB, secretA), nil},
		{"comments, blanks, CRLF, indentation", "# config keys\r\n\r\n  " + std(secretA) + "  # added 2026-03\r\n\t#" + std(secretB) + "\r\n", ok(secretA), nil},
		{"comment glued to the key", std(secretA) + "#note", ok(secretA), nil},
		{"empty text", "", nil, &sealed.KeyError{Rule: sealed.RuleKeyNone}},
		{"comments only", "# nothing yet\n\n   \n#" + std(secretA), nil, &sealed.KeyError{Rule: sealed.RuleKeyNone}},
		{"two keys on a line", std(secretA) + " " + std(secretB), nil, &sealed.KeyError{Line: 1, Rule: sealed.RuleKeyWords}},
		{"bad base64", "\n" + std(secretA) + "\nnot*base64!", nil, &sealed.KeyError{Line: 3, Rule: sealed.RuleKeyBase64}},
		{"mixed alphabets", strings.Replace(std(secretA), "+", "-", 1), nil, &sealed.KeyError{Line: 1, Rule: sealed.RuleKeyBase64}},
		{"wrong padding", rawStd(secretA) + "==", nil, &sealed.KeyError{Line: 1, Rule: sealed.RuleKeyBase64}},
		{"non-canonical last character", rawStd(secretA)[:42] + "/", nil, &sealed.KeyError{Line: 1, Rule: sealed.RuleKeyBase64}},
		{"16 bytes", std(secretA[:16]), nil, &sealed.KeyError{Line: 1, Rule: sealed.RuleKeySize, Size: 16}},
		{"33 bytes", "# k\n" + std(append(secretB, 'x')), nil, &sealed.KeyError{Line: 2, Rule: sealed.RuleKeySize, Size: 33}},
		{"a word", "word", nil, &sealed.KeyError{Line: 1, Rule: sealed.RuleKeySize, Size: 3}},
		{"duplicate", std(secretA) + "\n" + std(secretB) + "\n\n" + rawURL(secretA), nil, &sealed.KeyError{Line: 4, Rule: sealed.RuleKeyDuplicate, First: 1, ID: sealed.KeyID(secretA)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sealed.ParseKeys(tc.text)
			if tc.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("%d keys, want %d", len(got), len(tc.want))
				}
				for i := range got {
					if got[i].ID != tc.want[i].ID || !bytes.Equal(got[i].Secret, tc.want[i].Secret) {
						t.Fatalf("key %d = %v, want %v", i, got[i], tc.want[i])
					}
				}
				return
			}
			var ke *sealed.KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("ParseKeys = %v, %v; want *KeyError %+v", got, err, *tc.err)
			}
			if *ke != *tc.err {
				t.Fatalf("error %+v, want %+v", *ke, *tc.err)
			}
			msg := err.Error()
			if !strings.Contains(msg, string(tc.err.Rule)) {
				t.Errorf("error %q does not state the rule", msg)
			}
			if tc.err.Line > 0 && !strings.Contains(msg, "line ") {
				t.Errorf("error %q does not name the line", msg)
			}
			for _, secret := range [][]byte{secretA, secretB, secretA[:16]} {
				for _, enc := range []func([]byte) string{std, rawStd, url, rawURL} {
					if strings.Contains(msg, enc(secret)[:8]) {
						t.Errorf("error %q shows a key", msg)
					}
				}
			}
		})
	}
}

func TestKeyErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  sealed.KeyError
		want string
	}{
		{sealed.KeyError{Rule: sealed.RuleKeyNone}, "sealed: keys: no keys: want at least one line with a key"},
		{sealed.KeyError{Line: 2, Rule: sealed.RuleKeySize, Size: 16}, "sealed: keys line 2: a key is 32 bytes (AES-256), this one is 16 bytes"},
		{sealed.KeyError{Line: 5, Rule: sealed.RuleKeyDuplicate, First: 1, ID: "0a1b2c3d"}, "sealed: keys line 5: the same key is listed twice (key 0a1b2c3d, first on line 1)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestNewKeyText(t *testing.T) {
	a, err := sealed.NewKeyText()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sealed.NewKeyText()
	if a == b {
		t.Fatal("two new keys are equal")
	}
	if strings.ContainsAny(a, "\n ") {
		t.Fatalf("key line %q has a newline or space", a)
	}
	keys, err := sealed.ParseKeys(a + "\n" + b)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ParseKeys(two new keys) = %d, %v", len(keys), err)
	}
	if keys[0].ID != sealed.KeyID(keys[0].Secret) || len(keys[0].ID) != 8 {
		t.Fatalf("ID %q", keys[0].ID)
	}
}

func TestKeyIDIsSHA256Prefix(t *testing.T) {
	// printf '0123456789abcdef0123456789abcdef' | sha256sum | cut -c1-8
	if got := sealed.KeyID(secretB); got != "3eb1bd43" {
		t.Fatalf("KeyID = %s", got)
	}
}
