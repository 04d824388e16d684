package slug

import (
	"path"
	"strings"
	"testing"
)

// matchSegmentsSlow is the obvious exponential definition that the fast
// matcher must agree with.
func matchSegmentsSlow(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchSegmentsSlow(pat[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], name[0])
	return ok && matchSegmentsSlow(pat[1:], name[1:])
}

func FuzzIgnore(f *testing.F) {
	f.Add("*.psd\n/test\nspec/\n", "art/logo.psd", false)
	f.Add("a/**/b\n", "a/x/y/b", false)
	f.Add("log/**\n", "log/a/b", true)
	f.Add("[!abc].txt\n\\!x\n", "d.txt", false)
	f.Add("**/**/x/**\n", "x/x/x", true)
	f.Fuzz(func(t *testing.T, patterns, name string, isDir bool) {
		if len(patterns) > 1000 || len(name) > 200 {
			return
		}
		ign, err := ParseIgnore([]byte(patterns))
		if err != nil {
			ie, ok := err.(*IgnoreError)
			if !ok || ie.Line < 1 || ie.Line > strings.Count(patterns, "\n")+1 || ie.Reason == "" {
				t.Fatalf("ParseIgnore(%q) error %v is not an IgnoreError with a valid line", patterns, err)
			}
			return
		}
		got := ign.Match(name, isDir)
		// Agreement with the slow definition, rule by rule (which is
		// exponential, so only for small inputs).
		if strings.Trim(name, "/") == "" {
			if got {
				t.Fatalf("patterns %q exclude the top of the tree (%q)", patterns, name)
			}
			return
		}
		elems := strings.Split(strings.Trim(name, "/"), "/")
		if len(elems) > 12 || strings.Count(patterns, "**") > 6 {
			return
		}
		slow := false
		for i := 1; i <= len(elems) && !slow; i++ {
			for _, r := range ign.rules {
				if r.dirOnly && !(i < len(elems) || isDir) {
					continue
				}
				if matchSegmentsSlow(r.segs, elems[:i]) {
					slow = true
					break
				}
			}
		}
		if got != slow {
			t.Fatalf("patterns %q, name %q, dir %v: Match = %v, slow definition = %v", patterns, name, isDir, got, slow)
		}
		// An excluded directory excludes everything below it.
		if ign.Match(name, true) && !ign.Match(name+"/child", false) {
			t.Fatalf("patterns %q: %q is excluded as a directory but %q/child is not", patterns, name, name)
		}
	})
}
