package buildpack_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/google/go-cmp/cmp"
)

var releaseTests = []struct {
	name      string
	in        string
	want      buildpack.Release
	wantField string // non-empty: a *ReleaseError for this field
	wantMsg   string
}{
	{name: "empty", in: ""},
	{name: "only document marker", in: "---\n"},
	{name: "null document", in: "~\n"},
	{name: "full", in: "---\naddons:\n  - heroku-postgresql:dev\nconfig_vars:\n  LANG: en_US.UTF-8\n  PORT: 5000\n  DEBUG: true\ndefault_process_types:\n  web: bin/node server.js\n  worker: node worker.js --x=1\n",
		want: buildpack.Release{
			Addons:              []string{"heroku-postgresql:dev"},
			ConfigVars:          map[string]string{"LANG": "en_US.UTF-8", "PORT": "5000", "DEBUG": "true"},
			DefaultProcessTypes: map[string]string{"web": "bin/node server.js", "worker": "node worker.js --x=1"},
		}},
	{name: "flow style", in: `{default_process_types: {web: "./app"}, addons: []}`,
		want: buildpack.Release{DefaultProcessTypes: map[string]string{"web": "./app"}, Addons: []string{}}},
	{name: "null sections", in: "default_process_types:\naddons:\nconfig_vars: ~\n"},
	{name: "unknown keys ignored", in: "something_new: [1, 2]\ndefault_process_types:\n  web: x\n",
		want: buildpack.Release{DefaultProcessTypes: map[string]string{"web": "x"}}},
	{name: "multi-line command", in: "default_process_types:\n  web: |\n    bin/a &&\n    bin/b\n",
		want: buildpack.Release{DefaultProcessTypes: map[string]string{"web": "bin/a &&\nbin/b\n"}}},
	{name: "top level list", in: "- a\n- b\n", wantMsg: "want a YAML mapping"},
	{name: "top level scalar", in: "hello\n", wantMsg: "want a YAML mapping"},
	{name: "types is a list", in: "default_process_types:\n  - web\n", wantField: "default_process_types", wantMsg: "want a mapping of strings, got a list"},
	{name: "command is a list", in: "default_process_types:\n  web: [a, b]\n", wantField: "default_process_types.web", wantMsg: "want a string, got a list"},
	{name: "command is null", in: "default_process_types:\n  web:\n", wantField: "default_process_types.web", wantMsg: "got null"},
	{name: "bad type name", in: "default_process_types:\n  'we b': x\n", wantField: "default_process_types.we b", wantMsg: "process type must match"},
	{name: "addons is a map", in: "addons:\n  a: b\n", wantField: "addons", wantMsg: "want a list of strings"},
	{name: "addon is a map", in: "addons:\n  - {a: b}\n", wantField: "addons[0]", wantMsg: "want a string"},
	{name: "empty addon", in: "addons: ['']\n", wantField: "addons[0]", wantMsg: "empty"},
	{name: "config var bad name", in: "config_vars:\n  A-B: x\n", wantField: "config_vars.A-B", wantMsg: "letters, digits and _"},
	{name: "config var nested", in: "config_vars:\n  A: {b: c}\n", wantField: "config_vars.A", wantMsg: "want a string, got a mapping"},
	{name: "duplicate section", in: "addons: []\naddons: []\n", wantField: "addons", wantMsg: "duplicate key"},
	{name: "duplicate type", in: "default_process_types:\n  web: a\n  web: b\n", wantField: "default_process_types.web", wantMsg: "duplicate"},
	{name: "invalid yaml", in: "default_process_types: [\n", wantMsg: "not valid YAML"},
	{name: "tab indentation", in: "default_process_types:\n\tweb: x\n", wantMsg: "not valid YAML"},
	{name: "alias command", in: "x: &c cmd\ndefault_process_types:\n  web: *c\n", wantField: "default_process_types.web", wantMsg: "got an alias"},
}

func TestParseRelease(t *testing.T) {
	for _, tt := range releaseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildpack.ParseRelease([]byte(tt.in))
			if tt.wantMsg != "" || tt.wantField != "" {
				var re *buildpack.ReleaseError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want *ReleaseError", err)
				}
				if re.Field != tt.wantField || !strings.Contains(re.Msg, tt.wantMsg) {
					t.Errorf("ReleaseError = %+v, want field %q and message containing %q", re, tt.wantField, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReleaseTooLarge(t *testing.T) {
	_, err := buildpack.ParseRelease([]byte(strings.Repeat("#", buildpack.MaxReleaseBytes+1)))
	var re *buildpack.ReleaseError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "limit") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseRelease(f *testing.F) {
	for _, tt := range releaseTests {
		f.Add([]byte(tt.in))
	}
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a, *a]\ndefault_process_types: *b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := buildpack.ParseRelease(data)
		if err != nil {
			var re *buildpack.ReleaseError
			if !errors.As(err, &re) {
				t.Fatalf("error is not a *ReleaseError: %v", err)
			}
			if rel.DefaultProcessTypes != nil || rel.Addons != nil || rel.ConfigVars != nil {
				t.Fatalf("partial result with an error: %+v", rel)
			}
			return
		}
		for name := range rel.DefaultProcessTypes {
			if name == "" || strings.ContainsAny(name, " :\n") {
				t.Fatalf("accepted process type %q", name)
			}
		}
		for _, a := range rel.Addons {
			if a == "" {
				t.Fatal("accepted an empty add-on")
			}
		}
	})
}

var detectTests = []struct{ in, want string }{
	{"Go\n", "Go"},
	{"  Node.js  \n", "Node.js"},
	{"\n\n Ruby\nsecond\n", "Ruby"},
	{"", ""},
	{"\n \n", ""},
	{"Na\x1b[31mme\x00\n", "Na[31mme"},
	{"no newline", "no newline"},
	{strings.Repeat("x", 150), strings.Repeat("x", 100)},
	{"caf\xe9\n", "caf"},
}

func TestParseDetectOutput(t *testing.T) {
	for _, tt := range detectTests {
		if got := buildpack.ParseDetectOutput([]byte(tt.in)); got != tt.want {
			t.Errorf("ParseDetectOutput(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseDetectOutput(f *testing.F) {
	for _, tt := range detectTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := buildpack.ParseDetectOutput(data)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > 100 || strings.ContainsAny(got, "\n\r\x00\x1b") {
			t.Fatalf("ParseDetectOutput(%q) = %q", data, got)
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("not trimmed: %q", got)
		}
	})
}

var lsRemoteTests = []struct {
	in   string
	want map[string]string
}{
	{"", map[string]string{}},
	{"0123456789abcdef0123456789abcdef01234567\tHEAD\n0123456789abcdef0123456789abcdef01234567\trefs/heads/main\n",
		map[string]string{"HEAD": "0123456789abcdef0123456789abcdef01234567", "refs/heads/main": "0123456789abcdef0123456789abcdef01234567"}},
	{"bad line\nxyz\trefs/heads/a\n0123456789abcdef0123456789abcdef01234567\t\n", map[string]string{}},
	{"0123456789abcdef0123456789abcdef01234567\trefs/tags/v1^{}\r\n", map[string]string{"refs/tags/v1^{}": "0123456789abcdef0123456789abcdef01234567"}},
}

func TestParseLsRemote(t *testing.T) {
	for _, tt := range lsRemoteTests {
		if diff := cmp.Diff(tt.want, buildpack.ParseLsRemote([]byte(tt.in))); diff != "" {
			t.Errorf("ParseLsRemote(%q): %s", tt.in, diff)
		}
	}
}

func FuzzParseLsRemote(f *testing.F) {
	for _, tt := range lsRemoteTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for ref, hash := range buildpack.ParseLsRemote(data) {
			if len(hash) != 40 && len(hash) != 64 || ref == "" || strings.ContainsAny(ref, "\t\n\x00 ") {
				t.Fatalf("bad entry %q -> %q", ref, hash)
			}
		}
	})
}
