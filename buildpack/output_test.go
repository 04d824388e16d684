package buildpack

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// chunkRecorder records each Write, to check that only whole lines are
// passed on.
type chunkRecorder struct{ chunks []string }

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.chunks = append(c.chunks, string(p))
	return len(p), nil
}

func TestOutputLines(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		limit  int64
		want   []string
	}{
		{"whole lines", []string{"a\nb\n"}, 100, []string{"a\n", "b\n"}},
		{"split line", []string{"he", "llo\nwor", "ld\n"}, 100, []string{"hello\n", "world\n"}},
		{"unterminated flushed", []string{"tail"}, 100, []string{"tail\n"}},
		{"limit", []string{"1234\n", "5678\n", "9\n"}, 6, []string{"1234\n", " !     Build output truncated: more than 6 bytes; the rest is not shown (the build goes on).\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec chunkRecorder
			o := newOutput(&rec, tt.limit)
			for _, w := range tt.writes {
				if n, err := o.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			o.flush()
			if strings.Join(rec.chunks, "|") != strings.Join(tt.want, "|") {
				t.Errorf("chunks %q, want %q", rec.chunks, tt.want)
			}
		})
	}
}

func TestOutputLongLineAndPlatformLines(t *testing.T) {
	var buf bytes.Buffer
	o := newOutput(&buf, 1<<20)
	o.Write(bytes.Repeat([]byte("x"), maxLineBytes+10))
	o.step("Step %d", 1)
	o.detail("detail")
	o.warn("careful")
	want := strings.Repeat("x", maxLineBytes) + "\n" + "xxxxxxxxxx\n" + "-----> Step 1\n" + "       detail\n" + " !     careful\n"
	if buf.String() != want {
		t.Errorf("got %q", buf.String()[maxLineBytes-5:])
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) { f.n++; return 0, errors.New("reader went away") }

func TestOutputWriterErrorDoesNotFailScript(t *testing.T) {
	fw := &failWriter{}
	o := newOutput(fw, 100)
	for range 3 {
		if _, err := o.Write([]byte("line\n")); err != nil {
			t.Fatal(err)
		}
	}
	if fw.n != 1 || o.err == nil {
		t.Errorf("writes after the first error: %d, err %v", fw.n, o.err)
	}
}

func BenchmarkOutputWrite(b *testing.B) {
	line := []byte("       Installing dependency 42 of 100 from the cache\n")
	chunk := bytes.Repeat(line, 64)
	o := newOutput(discard{}, 1<<62)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		o.Write(chunk)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
