package platform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/local"
)

// noTerminals is a runtime without terminals, as the OCI and Nomad ones
// are; it counts the starts it refused.
type noTerminals struct {
	formation.Runtime
	refused atomic.Int32
}

func (r *noTerminals) Start(ctx context.Context, spec formation.DynoSpec, stdio formation.Stdio) (formation.Dyno, error) {
	if spec.Terminal != nil {
		r.refused.Add(1)
		return nil, fmt.Errorf("test runtime: %w", formation.ErrNoTerminal)
	}
	return r.Runtime.Start(ctx, spec, stdio)
}

// A one-off asked to run on a terminal gets one from a runtime that has
// them; on one that has none it runs without, its input read as a
// terminal's keystrokes (CR ends a line, ^D the input), and the platform
// stops asking.
func TestOneOffTerminal(t *testing.T) {
	const script = `test -t 0 && echo on-a-terminal || echo no-terminal; read -r x; echo "got:$x"; cat; echo "end of input"`
	for _, tc := range []struct {
		name string
		rt   *noTerminals // nil: the default local runtime
		want []string
	}{
		{"terminal", nil, []string{"on-a-terminal\r\n", "got:hello\r\n", "more\r\n", "end of input\r\n"}},
		{"runtime without terminals", &noTerminals{}, []string{"no-terminal\ngot:hello\nmore\nend of input\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cfg := Config{DataDir: t.TempDir(), StopGrace: time.Second}
			if tc.rt != nil {
				tc.rt.Runtime = &local.Runtime{BaseDir: t.TempDir()}
				cfg.Runtime = tc.rt
			}
			p, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- p.Run(runCtx) }()
			defer func() { stop(); <-done }()

			src := t.TempDir()
			if err := os.WriteFile(filepath.Join(src, "Procfile"), []byte("console: bash\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := p.CreateApp(ctx, "tty"); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Deploy(ctx, "tty", src, "0123abc", nil); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				var out formationtest.Buffer
				code, err := p.RunOneOff(ctx, "tty", script, OneOffIO{
					Stdin:    strings.NewReader("hello\rmore\r\x04ignored after ^D\r"),
					Stdout:   &out,
					Terminal: &formation.Terminal{Cols: 90, Rows: 20},
				})
				if err != nil || code != 0 {
					t.Fatalf("RunOneOff = %d, %v; output %q", code, err, out.String())
				}
				for _, w := range tc.want {
					if !strings.Contains(out.String(), w) {
						t.Errorf("output %q lacks %q", out.String(), w)
					}
				}
			}
			if tc.rt != nil && tc.rt.refused.Load() != 1 {
				t.Errorf("the runtime refused a terminal %d times, want once", tc.rt.refused.Load())
			}
		})
	}
}
