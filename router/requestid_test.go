package router

import (
	"regexp"
	"strings"
	"testing"
)

var validIDCases = []struct {
	id   string
	want bool
}{
	{"", false},
	{"short", false},
	{strings.Repeat("a", 19), false},
	{strings.Repeat("a", 20), true},
	{strings.Repeat("Z", 200), true},
	{strings.Repeat("a", 201), false},
	{"abcdefghij0123456789+/=-", true},
	{"abcdefghij0123456789_x", false},
	{"abcdefghij 0123456789", false},
	{"abcdefghij0123456789\n", false},
	{"f9ed4675-f1c5-3513-c61a-3b3b4e25b4c0", true},
}

func TestValidRequestID(t *testing.T) {
	for _, tc := range validIDCases {
		if got := ValidRequestID(tc.id); got != tc.want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

var allowedIDByte = regexp.MustCompile(`^[A-Za-z0-9+/=-]*$`)

func FuzzValidRequestID(f *testing.F) {
	for _, tc := range validIDCases {
		f.Add(tc.id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		want := len(id) >= 20 && len(id) <= 200 && allowedIDByte.MatchString(id)
		if got := ValidRequestID(id); got != want {
			t.Fatalf("ValidRequestID(%q) = %v, want %v", id, got, want)
		}
	})
}

func TestGeneratedIDs(t *testing.T) {
	g := newIDGen()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 100000; i++ {
		id := string(g.append(nil))
		if !re.MatchString(id) || !ValidRequestID(id) {
			t.Fatalf("id %q malformed", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q after %d", id, i)
		}
		seen[id] = true
	}
	if a, b := string(newIDGen().append(nil)), string(newIDGen().append(nil)); a == b {
		t.Errorf("two generators started with the same id %q", a)
	}
}
