package slug_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/slug"
)

var ignoreTests = []struct {
	patterns string
	name     string
	isDir    bool
	want     bool
}{
	{"*.psd", "logo.psd", false, true},
	{"*.psd", "art/deep/logo.psd", false, true},
	{"*.psd", "logo.psd.txt", false, false},
	{"/test", "test", true, true},
	{"/test", "test/unit/a_test.rb", false, true},
	{"/test", "lib/test", true, false},
	{"test", "lib/test", true, true},
	{"spec/", "spec", false, false},
	{"spec/", "spec", true, true},
	{"spec/", "lib/spec/x.rb", false, true},
	{"doc/*.pdf", "doc/a.pdf", false, true},
	{"doc/*.pdf", "doc/sub/a.pdf", false, false},
	{"doc/*.pdf", "x/doc/a.pdf", false, false},
	{"**/foo", "foo", false, true},
	{"**/foo", "a/b/foo", false, true},
	{"**/foo/bar", "a/foo/bar", false, true},
	{"a/**/b", "a/b", false, true},
	{"a/**/b", "a/x/y/b", false, true},
	{"a/**/b", "x/a/b", false, false},
	{"log/**", "log", true, false},
	{"log/**", "log/a", false, true},
	{"log/**", "log/a/b/c", false, true},
	{"f?o", "foo", false, true},
	{"f?o", "f/o", false, false},
	{"[abc].txt", "b.txt", false, true},
	{"[!abc].txt", "b.txt", false, false},
	{"[!abc].txt", "d.txt", false, true},
	{"\\!important", "!important", false, true},
	{"\\#hash", "#hash", false, true},
	{"# comment", "# comment", false, false},
	{"trailing   ", "trailing", false, true},
	{"escaped\\ ", "escaped ", false, true},
	{"a\r\n", "a", false, true},
	{"", "anything", false, false},
	{"/", "anything", true, false},
	{"*", "x/y", false, true},
	{"x/", "x/y", false, true},
	{"*.o\n*.a\n", "lib/z.a", false, true},
}

func TestIgnoreMatch(t *testing.T) {
	for _, tt := range ignoreTests {
		ign, err := slug.ParseIgnore([]byte(tt.patterns))
		if err != nil {
			t.Errorf("ParseIgnore(%q): %v", tt.patterns, err)
			continue
		}
		if got := ign.Match(tt.name, tt.isDir); got != tt.want {
			t.Errorf("patterns %q: Match(%q, dir=%v) = %v, want %v", tt.patterns, tt.name, tt.isDir, got, tt.want)
		}
	}
	var zero slug.Ignore
	if zero.Match("x", false) {
		t.Error("zero Ignore matched")
	}
}

func TestParseIgnoreErrors(t *testing.T) {
	tests := []struct {
		patterns string
		line     int
		reason   string
	}{
		{"ok\n!keep.psd\n", 2, "negation"},
		{"[abc\n", 1, "malformed"},
		{"# fine\n\nfoo\\", 3, "malformed"},
	}
	for _, tt := range tests {
		_, err := slug.ParseIgnore([]byte(tt.patterns))
		var ie *slug.IgnoreError
		if !errors.As(err, &ie) || ie.Line != tt.line || !strings.Contains(ie.Reason, tt.reason) {
			t.Errorf("ParseIgnore(%q) err = %v, want line %d: %s", tt.patterns, err, tt.line, tt.reason)
			continue
		}
		if !strings.Contains(err.Error(), ".slugignore:") {
			t.Errorf("error %q does not name the file and line", err)
		}
	}
}

// TestIgnoreAgreesWithGit runs git check-ignore on the same patterns and
// paths: .slugignore is documented as gitignore without negation.
func TestIgnoreAgreesWithGit(t *testing.T) {
	git := requireTool(t, "git")
	patterns := strings.Join([]string{
		"*.psd", "/test", "spec/", "doc/*.pdf", "**/tmp", "a/**/b", "log/**",
		"f?o.c", "[!x]y.txt", "nested/dir/", "/anchored/file", "*.min.*", "z\\ ",
	}, "\n") + "\n"
	files := []string{
		"logo.psd", "art/x/logo.psd", "test/a.rb", "lib/test/a.rb", "spec/x.rb",
		"lib/spec/y.rb", "specfile", "doc/a.pdf", "doc/s/a.pdf", "x/doc/a.pdf",
		"tmp/cache", "deep/er/tmp/c", "a/b", "a/q/r/b", "x/a/b", "log/one",
		"log/s/two", "foo.c", "fxo.c", "f/o.c", "ay.txt", "xy.txt", "nested/dir/f",
		"other/nested/dir/f", "nested/dirx/f", "anchored/file", "z/anchored/file",
		"app.min.js", "z ", "keep.rb",
	}
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(patterns), 0o644)
	if out, err := exec.Command(git, "-C", dir, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	// Every file and every directory on the way.
	set := map[string]bool{}
	for _, f := range files {
		for p := f; p != "."; p = filepath.ToSlash(filepath.Dir(p)) {
			set[p] = true
		}
	}
	var paths []string
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	cmd := exec.Command(git, "-C", dir, "check-ignore", "--no-index", "--stdin", "-z")
	cmd.Stdin = strings.NewReader(strings.Join(paths, "\x00") + "\x00")
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("git check-ignore: %v", err)
		}
	}
	gitIgnored := map[string]bool{}
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" {
			gitIgnored[p] = true
		}
	}
	ign, err := slug.ParseIgnore([]byte(patterns))
	if err != nil {
		t.Fatal(err)
	}
	if len(gitIgnored) < 10 {
		t.Fatalf("git ignored only %d paths: the comparison would prove little", len(gitIgnored))
	}
	for _, p := range paths {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if got := ign.Match(p, fi.IsDir()); got != gitIgnored[p] {
			t.Errorf("%q: Match = %v, git check-ignore says %v", p, got, gitIgnored[p])
		}
	}
}
