package slug_test

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"testing"
	"time"

	"github.com/dynokit/dynokit/slug"
)

func TestCollectGarbage(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := now.Add(-3 * time.Hour)
	s := &slug.MemStore{Now: func() time.Time { return clock }}
	put := func(body string) slug.Digest {
		info, err := s.Put(context.Background(), bytes.NewReader([]byte(body)), "")
		if err != nil {
			t.Fatal(err)
		}
		return info.Digest
	}
	oldKept := put("v1, still the current release")
	oldUnref := put("v0, no release left")
	clock = now.Add(-10 * time.Minute)
	youngUnref := put("built a moment ago, release not recorded yet")
	clock = now

	keep := func(d slug.Digest) bool { return d == oldKept }
	res, err := slug.CollectGarbage(context.Background(), s, keep, slug.GCOptions{Now: func() time.Time { return now }, DryRun: true})
	if err != nil || len(res.Deleted) != 1 || res.Deleted[0] != oldUnref {
		t.Fatalf("dry run = %+v, %v; want only %s", res, err, oldUnref)
	}
	if _, err := s.Stat(context.Background(), oldUnref); err != nil {
		t.Fatalf("dry run deleted: %v", err)
	}

	res, err = slug.CollectGarbage(context.Background(), s, keep, slug.GCOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 1 || res.Deleted[0] != oldUnref || res.Referenced != 1 || res.Young != 1 {
		t.Errorf("result = %+v, want 1 deleted (%s), 1 referenced, 1 young", res, oldUnref)
	}
	for d, want := range map[slug.Digest]bool{oldKept: true, oldUnref: false, youngUnref: true} {
		_, err := s.Stat(context.Background(), d)
		if got := err == nil; got != want {
			t.Errorf("after GC, %s present = %v, want %v", d, got, want)
		}
	}

	// A shorter grace period lets the young slug go.
	res, err = slug.CollectGarbage(context.Background(), s, keep, slug.GCOptions{Now: func() time.Time { return now }, Grace: 5 * time.Minute})
	if err != nil || len(res.Deleted) != 1 || res.Deleted[0] != youngUnref {
		t.Errorf("with 5m grace = %+v, %v; want %s deleted", res, err, youngUnref)
	}
}

// TestCollectGarbageRePut: a slug listed as old but put again before the
// delete (a deploy reusing an old build) must survive.
func TestCollectGarbageRePut(t *testing.T) {
	now := time.Now()
	clock := now.Add(-2 * time.Hour)
	mem := &slug.MemStore{Now: func() time.Time { return clock }}
	info, _ := mem.Put(context.Background(), bytes.NewReader([]byte("reused")), "")
	s := &rePutDuringList{MemStore: mem, then: func() {
		clock = now
		mem.Put(context.Background(), bytes.NewReader([]byte("reused")), "")
	}}
	res, err := slug.CollectGarbage(context.Background(), s, func(slug.Digest) bool { return false }, slug.GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 0 || res.Young != 1 {
		t.Errorf("result = %+v, want nothing deleted", res)
	}
	if _, err := mem.Stat(context.Background(), info.Digest); err != nil {
		t.Errorf("re-put slug was collected: %v", err)
	}
}

type rePutDuringList struct {
	*slug.MemStore
	then func()
}

func (r *rePutDuringList) List(ctx context.Context) iter.Seq2[slug.Info, error] {
	return func(yield func(slug.Info, error) bool) {
		for info, err := range r.MemStore.List(ctx) {
			if !yield(info, err) {
				return
			}
		}
		r.then()
	}
}

func TestCollectGarbageListError(t *testing.T) {
	s := &failingList{MemStore: &slug.MemStore{}}
	_, err := slug.CollectGarbage(context.Background(), s, func(slug.Digest) bool { return false }, slug.GCOptions{})
	if err == nil || !errors.Is(err, errListBroke) {
		t.Fatalf("err = %v, want the listing error", err)
	}
}

var errListBroke = errors.New("list broke")

type failingList struct{ *slug.MemStore }

func (f *failingList) List(ctx context.Context) iter.Seq2[slug.Info, error] {
	return func(yield func(slug.Info, error) bool) { yield(slug.Info{}, errListBroke) }
}
