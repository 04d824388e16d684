package kubernetes

import (
	"strings"
	"testing"
	"time"
)

func TestCopyLines(t *testing.T) {
	in := "2026-11-22T01:00:00.100000000Z web.1 listening\n" +
		"2026-11-22T01:00:00.200000000Z GET / 200\n" +
		"not a timestamped line\n" +
		"2026-11-22T01:00:01.000000000Z partial"
	var out strings.Builder
	last, n := copyLines(strings.NewReader(in), &out, time.Time{})
	want := "web.1 listening\nGET / 200\nnot a timestamped line\npartial"
	if out.String() != want || n != 4 {
		t.Errorf("copied %d lines %q, want 4 lines %q", n, out.String(), want)
	}
	if wantLast := time.Date(2026, 11, 22, 1, 0, 1, 0, time.UTC); !last.Equal(wantLast) {
		t.Errorf("last %v, want %v", last, wantLast)
	}

	// A stream reopened with SinceTime (whole seconds) repeats lines of
	// that second: those up to the last one written are dropped.
	again := "2026-11-22T01:00:00.100000000Z web.1 listening\n" +
		"2026-11-22T01:00:00.200000000Z GET / 200\n" +
		"2026-11-22T01:00:00.300000000Z GET /new 200\n"
	out.Reset()
	if _, n := copyLines(strings.NewReader(again), &out, time.Date(2026, 11, 22, 1, 0, 0, 200000000, time.UTC)); n != 1 || out.String() != "GET /new 200\n" {
		t.Errorf("reopened stream: copied %d lines %q, want only the new one", n, out.String())
	}
}

func TestDeploymentName(t *testing.T) {
	for _, tc := range []struct{ app, typ, want string }{
		{"shop", "web", "shop-web"},
		{"shop", "worker-2", "shop-worker-2"},
		{"shop", "Worker", "shop-worker-a67b04"},
		{"shop", "my_worker", "shop-my-worker-5c9a0e"},
	} {
		if got := DeploymentName(tc.app, tc.typ); got != tc.want {
			t.Errorf("DeploymentName(%q, %q) = %q, want %q", tc.app, tc.typ, got, tc.want)
		}
	}
	if DeploymentName("shop", "Worker") == DeploymentName("shop", "worker") {
		t.Error("Worker and worker share a Deployment name")
	}
}
