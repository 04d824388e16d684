package formationtest

import (
	"os"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/formation"
)

// This package's test binary has no TestMain calling DynoMain: ServeSlug's
// check must refuse it rather than let dynos run its tests.
func TestCheckDynoMainRefuses(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDynoMain(exe); err == nil || !strings.Contains(err.Error(), "must call formationtest.DynoMain") {
		t.Fatalf("checkDynoMain = %v", err)
	}
}

func TestDeployment(t *testing.T) {
	src := formation.SlugSource{URL: "http://127.0.0.1:1/slugs/x", Digest: "SHA256:x"}
	d := Deployment("ft-a", 2, src, map[string]int{"web": 2, "crash": 1, "clock": 1}, "A=1")
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string]string{"web": "bin/dynohelper web", "crash": "bin/dynohelper crash", "clock": "bin/dynohelper worker"} {
		if got := d.Processes[typ].Command; got != want {
			t.Errorf("%s: command %q, want %q", typ, got, want)
		}
	}
	if d.Processes["web"].Quantity != 2 || d.Release != 2 || d.Slug != src || d.Env[len(d.Env)-1] != "A=1" {
		t.Errorf("deployment %+v", d)
	}
}
