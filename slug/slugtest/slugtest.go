// Package slugtest provides a conformance suite for slug.Store
// implementations and a corpus of hostile slugs for extractors.
//
// A Store implementation runs the suite from its own tests:
//
//	func TestStore(t *testing.T) {
//		slugtest.StoreSuite(t, func(t *testing.T) slug.Store {
//			return &mystore.Store{Dir: t.TempDir()}
//		})
//	}
//
// newStore must return an empty store each time it is called.
package slugtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/slug"
)

// StoreSuite checks that the stores returned by newStore behave as the
// slug.Store contract says.
func StoreSuite(t *testing.T, newStore func(t *testing.T) slug.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s slug.Store)
	}{
		{"PutOpenStat", testPutOpenStat},
		{"PutWithoutWant", testPutWithoutWant},
		{"PutMismatchStoresNothing", testPutMismatch},
		{"PutInvalidWant", testPutInvalidWant},
		{"PutReaderError", testPutReaderError},
		{"PutCancelled", testPutCancelled},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"ListStopsEarly", testListStopsEarly},
		{"DigestSpellings", testDigestSpellings},
		{"RePutRefreshesCreatedAt", testRePut},
		{"ConcurrentPutSameSlug", testConcurrentSame},
		{"ConcurrentBadPutDoesNotClobber", testConcurrentBad},
		{"EmptySlug", testEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func mustPut(t *testing.T, s slug.Store, data []byte) slug.Info {
	t.Helper()
	want := slug.DigestOf(data)
	info, err := s.Put(context.Background(), bytes.NewReader(data), want)
	if err != nil {
		t.Fatalf("Put(%d bytes, %s): %v", len(data), want, err)
	}
	if info.Digest != want || info.Size != int64(len(data)) {
		t.Fatalf("Put returned %+v, want digest %s size %d", info, want, len(data))
	}
	return info
}

func readAll(t *testing.T, s slug.Store, d slug.Digest) ([]byte, slug.Info) {
	t.Helper()
	rc, info, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", d, err)
	}
	return b, info
}

func testPutOpenStat(t *testing.T, s slug.Store) {
	data := randomBytes(t, 300_000)
	before := time.Now().Add(-time.Minute)
	put := mustPut(t, s, data)
	if put.CreatedAt.Before(before) || put.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("Put CreatedAt = %v, want about now", put.CreatedAt)
	}
	got, info := readAll(t, s, put.Digest)
	if !bytes.Equal(got, data) {
		t.Fatalf("Open returned %d bytes that differ from the %d put", len(got), len(data))
	}
	if info.Digest != put.Digest || info.Size != put.Size {
		t.Errorf("Open info = %+v, want %+v", info, put)
	}
	st, err := s.Stat(context.Background(), put.Digest)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Digest != put.Digest || st.Size != put.Size || !st.CreatedAt.Equal(info.CreatedAt) {
		t.Errorf("Stat = %+v, Open info = %+v", st, info)
	}
}

func testPutWithoutWant(t *testing.T, s slug.Store) {
	data := []byte("no digest given")
	info, err := s.Put(context.Background(), bytes.NewReader(data), "")
	if err != nil {
		t.Fatalf("Put without want: %v", err)
	}
	if info.Digest != slug.DigestOf(data) {
		t.Errorf("Put computed %s, want %s", info.Digest, slug.DigestOf(data))
	}
	if got, _ := readAll(t, s, info.Digest); !bytes.Equal(got, data) {
		t.Errorf("Open returned %q, want %q", got, data)
	}
}

func testPutMismatch(t *testing.T, s slug.Store) {
	data := []byte("the real bytes")
	other := slug.DigestOf([]byte("other bytes"))
	_, err := s.Put(context.Background(), bytes.NewReader(data), other)
	var me *slug.DigestMismatchError
	if !errors.As(err, &me) || !errors.Is(err, slug.ErrDigestMismatch) {
		t.Fatalf("Put with wrong digest: err = %v, want a *DigestMismatchError", err)
	}
	if me.Want != other || me.Got != slug.DigestOf(data) {
		t.Errorf("mismatch error = %+v, want Want=%s Got=%s", me, other, slug.DigestOf(data))
	}
	if !strings.Contains(err.Error(), "Checksum does not match") {
		t.Errorf("error %q does not use Heroku's R17 wording", err)
	}
	for _, d := range []slug.Digest{other, slug.DigestOf(data)} {
		if _, err := s.Stat(context.Background(), d); !errors.Is(err, slug.ErrNotFound) {
			t.Errorf("after failed Put, Stat(%s) err = %v, want ErrNotFound", d, err)
		}
	}
	assertListed(t, s, nil)
}

func testPutInvalidWant(t *testing.T, s slug.Store) {
	for _, want := range []slug.Digest{"md5:abc", "SHA256:xyz", "SHA256:" + slug.Digest(strings.Repeat("a", 63))} {
		_, err := s.Put(context.Background(), strings.NewReader("x"), want)
		if err == nil || errors.Is(err, slug.ErrDigestMismatch) {
			t.Errorf("Put(want=%q) err = %v, want an invalid-digest error", want, err)
		}
	}
	assertListed(t, s, nil)
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func testPutReaderError(t *testing.T, s slug.Store) {
	_, err := s.Put(context.Background(), &failingReader{n: 100_000}, "")
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Put from a failing reader: err = %v, want the reader's error", err)
	}
	assertListed(t, s, nil)
}

func testPutCancelled(t *testing.T, s slug.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Put(ctx, bytes.NewReader(randomBytes(t, 1000)), "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: err = %v, want context.Canceled", err)
	}
	assertListed(t, s, nil)
}

func testMissing(t *testing.T, s slug.Store) {
	d := slug.DigestOf([]byte("never stored"))
	ctx := context.Background()
	if _, _, err := s.Open(ctx, d); !errors.Is(err, slug.ErrNotFound) {
		t.Errorf("Open(missing) err = %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, d); !errors.Is(err, slug.ErrNotFound) {
		t.Errorf("Stat(missing) err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, d); !errors.Is(err, slug.ErrNotFound) {
		t.Errorf("Delete(missing) err = %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, "not-a-digest"); err == nil || errors.Is(err, slug.ErrNotFound) {
		t.Errorf("Stat(invalid digest) err = %v, want an invalid-digest error", err)
	}
}

func testDelete(t *testing.T, s slug.Store) {
	a := mustPut(t, s, []byte("slug a"))
	b := mustPut(t, s, []byte("slug b"))
	ctx := context.Background()
	if err := s.Delete(ctx, a.Digest); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, _, err := s.Open(ctx, a.Digest); !errors.Is(err, slug.ErrNotFound) {
		t.Errorf("Open after Delete err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, a.Digest); !errors.Is(err, slug.ErrNotFound) {
		t.Errorf("second Delete err = %v, want ErrNotFound", err)
	}
	assertListed(t, s, []slug.Info{b})
}

func assertListed(t *testing.T, s slug.Store, want []slug.Info) {
	t.Helper()
	got := map[slug.Digest]slug.Info{}
	for info, err := range s.List(context.Background()) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if _, dup := got[info.Digest]; dup {
			t.Errorf("List yielded %s twice", info.Digest)
		}
		got[info.Digest] = info
	}
	if len(got) != len(want) {
		t.Errorf("List yielded %d slugs, want %d", len(got), len(want))
	}
	for _, w := range want {
		g, ok := got[w.Digest]
		if !ok {
			t.Errorf("List did not yield %s", w.Digest)
			continue
		}
		if g.Size != w.Size {
			t.Errorf("List size of %s = %d, want %d", w.Digest, g.Size, w.Size)
		}
	}
}

func testList(t *testing.T, s slug.Store) {
	assertListed(t, s, nil)
	var infos []slug.Info
	for i := range 5 {
		infos = append(infos, mustPut(t, s, []byte(fmt.Sprintf("slug %d %s", i, strings.Repeat("x", i*1000)))))
	}
	assertListed(t, s, infos)
}

func testListStopsEarly(t *testing.T, s slug.Store) {
	for i := range 4 {
		mustPut(t, s, []byte(fmt.Sprintf("slug %d", i)))
	}
	n := 0
	for _, err := range s.List(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 2 {
			break // the iterator must not call yield again (the runtime panics if it does)
		}
	}
	if n != 2 {
		t.Errorf("got %d items before break, want 2", n)
	}
}

func testDigestSpellings(t *testing.T, s slug.Store) {
	info := mustPut(t, s, []byte("spelled differently"))
	lower := slug.Digest("sha256:" + strings.ToUpper(info.Digest.Hex()))
	st, err := s.Stat(context.Background(), lower)
	if err != nil || st.Digest != info.Digest {
		t.Errorf("Stat(%s) = %+v, %v; want %s", lower, st, err, info.Digest)
	}
	if _, err := s.Put(context.Background(), strings.NewReader("spelled differently"), lower); err != nil {
		t.Errorf("Put with want=%s: %v", lower, err)
	}
}

func testRePut(t *testing.T, s slug.Store) {
	data := []byte("deployed twice")
	first := mustPut(t, s, data)
	time.Sleep(20 * time.Millisecond)
	second := mustPut(t, s, data)
	if second.CreatedAt.Before(first.CreatedAt) {
		t.Errorf("re-Put CreatedAt %v is before the first %v", second.CreatedAt, first.CreatedAt)
	}
	st, err := s.Stat(context.Background(), first.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if st.CreatedAt.Before(first.CreatedAt) {
		t.Errorf("Stat CreatedAt %v is before the first Put's %v", st.CreatedAt, first.CreatedAt)
	}
	assertListed(t, s, []slug.Info{second})
}

func testConcurrentSame(t *testing.T, s slug.Store) {
	data := randomBytes(t, 1<<20)
	want := slug.DigestOf(data)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Put(context.Background(), bytes.NewReader(data), want)
		}()
	}
	// Read while the Puts are running: a reader sees all or nothing.
	for range 20 {
		rc, _, err := s.Open(context.Background(), want)
		if errors.Is(err, slug.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("Open during Puts: %v", err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("Open during Puts read %d bytes (err %v), want all %d", len(b), err, len(data))
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	if got, _ := readAll(t, s, want); !bytes.Equal(got, data) {
		t.Errorf("after concurrent Puts the slug differs")
	}
	assertListed(t, s, []slug.Info{{Digest: want, Size: int64(len(data))}})
}

func testConcurrentBad(t *testing.T, s slug.Store) {
	good := randomBytes(t, 200_000)
	bad := randomBytes(t, 200_000)
	want := slug.DigestOf(good)
	var wg sync.WaitGroup
	var goodErr, badErr error
	wg.Add(2)
	go func() { defer wg.Done(); _, goodErr = s.Put(context.Background(), bytes.NewReader(good), want) }()
	go func() { defer wg.Done(); _, badErr = s.Put(context.Background(), bytes.NewReader(bad), want) }()
	wg.Wait()
	if goodErr != nil {
		t.Errorf("good Put: %v", goodErr)
	}
	if !errors.Is(badErr, slug.ErrDigestMismatch) {
		t.Errorf("bad Put err = %v, want ErrDigestMismatch", badErr)
	}
	if got, _ := readAll(t, s, want); !bytes.Equal(got, good) {
		t.Errorf("a failed Put clobbered the stored slug")
	}
}

func testEmpty(t *testing.T, s slug.Store) {
	info := mustPut(t, s, nil)
	if got, _ := readAll(t, s, info.Digest); len(got) != 0 {
		t.Errorf("empty slug read back as %d bytes", len(got))
	}
}
