package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Golden compares got with the file at path. With update set it writes got
// there instead (creating the directory), so a reviewer can check the
// change in the diff.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (run go test -update if intended) (-want +got):\n%s", path, diff)
	}
}

// GoldenDir runs one subtest per file dir/*ext, named after the file
// without ext: render turns the file's contents into the output that
// [Golden] compares with the .golden file beside it.
func GoldenDir(t *testing.T, dir, ext string, update bool, render func(t *testing.T, src []byte) []byte) {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs %s: %v", filepath.Join(dir, "*"+ext), err)
	}
	for _, in := range inputs {
		base := strings.TrimSuffix(in, ext)
		t.Run(filepath.Base(base), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			Golden(t, base+".golden", render(t, src), update)
		})
	}
}

// SyncBuffer is a bytes.Buffer that goroutines may write while the test
// reads it, such as the output of a build or of a process runner.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
