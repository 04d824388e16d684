package gitpush

import (
	"strings"
	"testing"
)

func TestValidateAppName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"demo", true},
		{"a1b", true},
		{"my-app-2", true},
		{"abc" + strings.Repeat("x", 27), true}, // 30 characters
		{"abc" + strings.Repeat("x", 28), false},
		{"ab", false},
		{"", false},
		{"1app", false},
		{"-app", false},
		{"app-", false},
		{"App", false},
		{"my_app", false},
		{"my.app", false},
		{"my app", false},
		{"../etc", false},
	} {
		err := ValidateAppName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateAppName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "3 to 30 characters") {
			t.Errorf("ValidateAppName(%q) error does not state the rule: %v", tc.name, err)
		}
	}
}

func TestSplitRepoPath(t *testing.T) {
	for _, tc := range []struct {
		path, app, rest string
		ok              bool
	}{
		{"/demo.git/info/refs", "demo", "info/refs", true},
		{"/demo.git/git-receive-pack", "demo", "git-receive-pack", true},
		{"/demo.git/objects/ab/cdef", "demo", "objects/ab/cdef", true},
		{"/demo.git", "", "", false},
		{"/demo.git/", "", "", false},
		{"/demo/info/refs", "", "", false},
		{"/", "", "", false},
	} {
		app, rest, ok := splitRepoPath(tc.path)
		if app != tc.app || rest != tc.rest || ok != tc.ok {
			t.Errorf("splitRepoPath(%q) = %q, %q, %v; want %q, %q, %v", tc.path, app, rest, ok, tc.app, tc.rest, tc.ok)
		}
	}
}

var (
	revA = strings.Repeat("a", 40)
	revB = strings.Repeat("b", 40)
)

func TestParseHookRequest(t *testing.T) {
	good := "object-directory /r/objects/tmp_objdir-incoming-x\nalternate-object-directories /r/objects\nquarantine-path /r/q\n\n" +
		ZeroRev + " " + revA + " refs/heads/main\n" + revA + " " + revB + " refs/tags/v1\nend\n"
	req, err := parseHookRequest(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if req.ObjectDir != "/r/objects/tmp_objdir-incoming-x" || req.AlternateDirs != "/r/objects" || req.QuarantineDir != "/r/q" {
		t.Errorf("headers = %+v", req)
	}
	if len(req.Updates) != 2 || req.Updates[0] != (refUpdate{ZeroRev, revA, "refs/heads/main"}) || req.Updates[1].Ref != "refs/tags/v1" {
		t.Errorf("updates = %+v", req.Updates)
	}

	for _, tc := range []struct{ name, in, wantErr string }{
		{"no end", "\n" + revA + " " + revB + " refs/heads/main\n", `ended before its "end" line`},
		{"empty", "", `ended before its "end" line`},
		{"unknown header", "colour blue\n\nend\n", `unknown header "colour"`},
		{"short rev", "\nabc " + revB + " refs/heads/main\nend\n", "malformed ref update"},
		{"upper-case rev", "\n" + strings.ToUpper(revA) + " " + revB + " refs/heads/main\nend\n", "malformed ref update"},
		{"not a ref", "\n" + revA + " " + revB + " main\nend\n", "malformed ref update"},
		{"extra field", "\n" + revA + " " + revB + " refs/heads/main x\nend\n", "malformed ref update"},
	} {
		_, err := parseHookRequest(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.wantErr)
		}
	}
}

func FuzzParseHookRequest(f *testing.F) {
	f.Add("object-directory /x\n\n" + ZeroRev + " " + revA + " refs/heads/main\nend\n")
	f.Add("\nend\n")
	f.Add("quarantine-path a b c\n\n" + revA + " " + revB + " refs/x\n")
	f.Fuzz(func(t *testing.T, in string) {
		req, err := parseHookRequest(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, u := range req.Updates {
			if !isObjectName(u.Old) || !isObjectName(u.New) || !strings.HasPrefix(u.Ref, "refs/") || strings.ContainsAny(u.Ref, " \n") {
				t.Fatalf("accepted a bad update %+v from %q", u, in)
			}
		}
	})
}
