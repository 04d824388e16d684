package sealed_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dynokit/dynokit/release/sealed"
)

const chunk = 64 << 10 // the stream's chunk size, as documented

func newBox(t testing.TB, keys ...sealed.Key) *sealed.Box {
	t.Helper()
	b, err := sealed.NewBox(keys)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealStream seals data for label, written in pieces of step bytes.
func sealStream(t testing.TB, b *sealed.Box, label string, data []byte, step int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := b.SealStream(&out, label)
	for p := data; len(p) > 0; {
		k := min(step, len(p))
		if n, err := w.Write(p[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func openAll(b *sealed.Box, label string, stream []byte) ([]byte, error) {
	r, err := b.OpenStream(iotest.HalfReader(bytes.NewReader(stream)), label)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestStreamRoundTrip(t *testing.T) {
	box := newBox(t, newKey(t))
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3*chunk + 5} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for _, step := range []int{1000, chunk, 5 * chunk} {
			stream := sealStream(t, box, "backup/1", data, step)
			if !bytes.HasPrefix(stream, []byte(sealed.StreamPrefix)) {
				t.Fatalf("size %d: stream starts %q", size, stream[:min(30, len(stream))])
			}
			if size >= 64 && bytes.Contains(stream, data[:64]) {
				t.Fatalf("size %d: the data shows in the stream", size)
			}
			chunks := max(1, (size+chunk-1)/chunk)
			if overhead := len(stream) - size; overhead > 250+16*chunks {
				t.Errorf("size %d: %d bytes of overhead", size, overhead)
			}
			got, err := openAll(box, "backup/1", stream)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("size %d, writes of %d: read %d bytes, %v", size, step, len(got), err)
			}
		}
	}
}

func TestStreamKeysAndLabels(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	old, box := newBox(t, oldKey), newBox(t, newKey, oldKey)
	data := bytes.Repeat([]byte("row\n"), 50000)

	// Rotation: a stream the old key sealed opens with the new list.
	if got, err := openAll(box, "b", sealStream(t, old, "b", data, 4096)); err != nil || !bytes.Equal(got, data) {
		t.Errorf("old key's stream: %d bytes, %v", len(got), err)
	}
	// And the new key seals: the old list does not know it.
	stream := sealStream(t, box, "b", data, 4096)
	_, err := old.OpenStream(bytes.NewReader(stream), "b")
	var oe *sealed.OpenError
	if !errors.As(err, &oe) || oe.Reason != sealed.ReasonUnknownKey || oe.KeyID != newKey.ID || !errors.Is(err, sealed.ErrCannotOpen) {
		t.Errorf("open with the old list only: %v", err)
	}
	// Bound to its label.
	if _, err := box.OpenStream(bytes.NewReader(stream), "c"); !errors.As(err, &oe) || oe.Reason != sealed.ReasonNotAuthentic || oe.Var != "c" {
		t.Errorf("open under another label: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "row") {
		t.Errorf("error shows data: %v", err)
	}
	// The header's sealed key is not a Box secret of the same label.
	header, _, _ := bytes.Cut(stream, []byte("\n"))
	if _, err := box.Open("b", strings.TrimPrefix(string(header), sealed.StreamPrefix)); err == nil {
		t.Error("a stream's data key opened as a Box secret")
	}
	// Data from before sealing passes through.
	for _, plain := range []string{"", "PGDMP\x01\x0e", "dk-sealed-stream", strings.Repeat("x", 3*chunk)} {
		if got, err := openAll(box, "b", []byte(plain)); err != nil || string(got) != plain {
			t.Errorf("plaintext %.20q: read %.20q, %v", plain, got, err)
		}
	}
}

// Altered, reordered, cut-off or extended streams fail while read, with
// the reason, after the data that did authenticate.
func TestStreamTampering(t *testing.T) {
	box := newBox(t, newKey(t))
	data := make([]byte, 3*chunk+100)
	for i := range data {
		data[i] = byte(i % 251)
	}
	stream := sealStream(t, box, "b", data, chunk)
	headerLen := bytes.IndexByte(stream, '\n') + 1
	sealedChunk := chunk + 16
	chunkAt := func(i int) []byte {
		return stream[headerLen+i*sealedChunk : min(len(stream), headerLen+(i+1)*sealedChunk)]
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(at int) []byte {
		s := bytes.Clone(stream)
		s[at] ^= 1
		return s
	}
	for _, c := range []struct {
		name   string
		stream []byte
		goodTo int // data that still reads correctly before the error
		reason sealed.Reason
	}{
		{"byte flipped in chunk 0", flip(headerLen + 10), 0, sealed.ReasonNotAuthentic},
		{"byte flipped in chunk 2", flip(headerLen + 2*sealedChunk + 7), 2 * chunk, sealed.ReasonNotAuthentic},
		{"tag flipped in the last chunk", flip(len(stream) - 1), 3 * chunk, sealed.ReasonNotAuthentic},
		{"chunks 0 and 1 swapped", join(stream[:headerLen], chunkAt(1), chunkAt(0), chunkAt(2), chunkAt(3)), 0, sealed.ReasonNotAuthentic},
		{"last chunk dropped", stream[:headerLen+3*sealedChunk], 2 * chunk, sealed.ReasonTruncated},
		{"cut inside a chunk", stream[:headerLen+sealedChunk+100], chunk, sealed.ReasonNotAuthentic},
		{"header only", stream[:headerLen], 0, sealed.ReasonTruncated},
		{"bytes appended", join(stream, []byte("x")), 3 * chunk, sealed.ReasonNotAuthentic},
		{"a chunk repeated", join(stream[:headerLen], chunkAt(0), chunkAt(0), chunkAt(1), chunkAt(2), chunkAt(3)), chunk, sealed.ReasonNotAuthentic},
	} {
		got, err := openAll(box, "b", c.stream)
		var oe *sealed.OpenError
		if !errors.As(err, &oe) || oe.Reason != c.reason || oe.Var != "b" {
			t.Errorf("%s: err = %v, want reason %q", c.name, err, c.reason)
		}
		if !bytes.Equal(got, data[:c.goodTo]) {
			t.Errorf("%s: read %d bytes before the error, want the first %d", c.name, len(got), c.goodTo)
		}
	}
	// A header that is not sealed text fails at once.
	for _, bad := range []string{sealed.StreamPrefix + "no newline", sealed.StreamPrefix + "plain\n", sealed.StreamPrefix + strings.Repeat("a", 600) + "\n"} {
		var oe *sealed.OpenError
		if _, err := box.OpenStream(strings.NewReader(bad), "b"); !errors.As(err, &oe) || oe.Reason != sealed.ReasonMalformed {
			t.Errorf("header %.40q: %v", bad, err)
		}
	}
}

func TestStreamWriteErrors(t *testing.T) {
	box := newBox(t, newKey(t))
	broken := errors.New("disk full")
	w := box.SealStream(errWriter{broken}, "b")
	if _, err := w.Write(make([]byte, chunk+1)); !errors.Is(err, broken) {
		t.Errorf("Write past a chunk to a failing writer: %v", err)
	}
	if err := w.Close(); !errors.Is(err, broken) {
		t.Errorf("Close after a failed write: %v", err)
	}
	var out bytes.Buffer
	w = box.SealStream(&out, "b")
	_ = w.Close()
	if _, err := w.Write([]byte("late")); err == nil {
		t.Error("Write after Close succeeded")
	}
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

func BenchmarkStream(b *testing.B) {
	box := newBox(b, newKey(b))
	data := make([]byte, 4<<20)
	stream := sealStream(b, box, "b", data, 32<<10)
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			w := box.SealStream(io.Discard, "b")
			_, _ = w.Write(data)
			_ = w.Close()
		}
	})
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, err := box.OpenStream(bytes.NewReader(stream), "b")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzOpenStream: any input opens or fails with an *OpenError, without
// panicking; input without StreamPrefix reads back as it is.
func FuzzOpenStream(f *testing.F) {
	box := newBox(f, sealed.Key{ID: sealed.KeyID(secretA), Secret: secretA})
	for _, data := range []string{"", "x", strings.Repeat("row\n", 100)} {
		var out bytes.Buffer
		w := box.SealStream(&out, "b")
		_, _ = w.Write([]byte(data))
		_ = w.Close()
		f.Add(out.Bytes())
	}
	f.Add([]byte("PGDMP"))
	f.Add([]byte(sealed.StreamPrefix + "dk-sealed:v1:zz:AAAA\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := openAll(box, "b", in)
		var oe *sealed.OpenError
		if err != nil && !errors.As(err, &oe) {
			t.Fatalf("error %v is not an *OpenError", err)
		}
		if !bytes.HasPrefix(in, []byte(sealed.StreamPrefix)) && (err != nil || !bytes.Equal(got, in)) {
			t.Fatalf("plaintext read back as %q, %v", got, err)
		}
	})
}

// FuzzStreamTamper: any change to a sealed stream (a byte altered, the
// end cut off) fails the read, unless it removes the stream's mark, when
// the bytes read back as they are; the unchanged stream reads back whole.
func FuzzStreamTamper(f *testing.F) {
	box := newBox(f, sealed.Key{ID: sealed.KeyID(secretA), Secret: secretA})
	f.Add([]byte("hello"), uint(3), byte(1), uint(0))
	f.Add([]byte{}, uint(0), byte(0), uint(1))
	f.Add(bytes.Repeat([]byte("ab"), chunk), uint(200), byte(0x80), uint(17))
	f.Fuzz(func(t *testing.T, data []byte, at uint, x byte, cut uint) {
		stream := sealStream(t, box, "b", data, 4096)
		changed := bytes.Clone(stream)
		changed[at%uint(len(changed))] ^= x
		changed = changed[:len(changed)-int(cut%uint(len(changed)))]
		got, err := openAll(box, "b", changed)
		if bytes.Equal(changed, stream) {
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("unchanged stream: %d bytes, %v", len(got), err)
			}
			return
		}
		if !bytes.HasPrefix(changed, []byte(sealed.StreamPrefix)) {
			// No longer marked as sealed: read as plaintext from before
			// sealing, which shows the sealed bytes, not the data.
			if err != nil || !bytes.Equal(got, changed) {
				t.Fatalf("unmarked stream: %d bytes, %v", len(got), err)
			}
			return
		}
		var oe *sealed.OpenError
		if !errors.As(err, &oe) {
			t.Fatalf("a changed stream read %d bytes with error %v", len(got), err)
		}
		if !bytes.HasPrefix(data, got) {
			t.Fatal("a changed stream read data that is not the original's")
		}
	})
}
