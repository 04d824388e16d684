package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dynokit/dynokit/internal/store"
)

// Suite runs the conformance tests; open returns an empty DB that the
// suite closes.
func Suite(t *testing.T, open func(t *testing.T) store.DB) {
	ctx := context.Background()
	fresh := func(t *testing.T) store.DB {
		db := open(t)
		t.Cleanup(func() { db.Close() })
		return db
	}
	t.Run("GetPutInsertDelete", func(t *testing.T) {
		db := fresh(t)
		err := db.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Get("a", []byte("k")); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("get of missing key: %v, want ErrNotFound", err)
			}
			if err := tx.Insert("a", []byte("k"), []byte("v1")); err != nil {
				return err
			}
			if err := tx.Insert("a", []byte("k"), []byte("v2")); !errors.Is(err, store.ErrExists) {
				return fmt.Errorf("second Insert: %v, want ErrExists", err)
			}
			if err := tx.Insert("b", []byte("k"), []byte("other ns")); err != nil {
				return fmt.Errorf("same key in another namespace: %v", err)
			}
			return tx.Put("a", []byte("k2"), []byte{})
		})
		if err != nil {
			t.Fatal(err)
		}
		mustGet(t, db, "a", "k", "v1")
		mustGet(t, db, "b", "k", "other ns")
		mustGet(t, db, "a", "k2", "")
		update(t, db, func(tx store.Tx) error {
			if err := tx.Put("a", []byte("k"), []byte("v3")); err != nil {
				return err
			}
			if err := tx.Delete("a", []byte("k2")); err != nil {
				return err
			}
			return tx.Delete("a", []byte("never-there"))
		})
		mustGet(t, db, "a", "k", "v3")
		if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put("a", nil, []byte("v")) }); err == nil {
			t.Error("Put with an empty key succeeded")
		}
		err = db.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get("a", []byte("k2"))
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted key: %v, want ErrNotFound", err)
		}
	})
	t.Run("RollbackOnError", func(t *testing.T) {
		db := fresh(t)
		boom := errors.New("boom")
		err := db.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put("a", []byte("k"), []byte("v")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update returned %v, want fn's error", err)
		}
		err = db.View(ctx, func(tx store.Tx) error { _, err := tx.Get("a", []byte("k")); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("write of a failed Update is visible: %v", err)
		}
	})
	t.Run("CopiesAreOwned", func(t *testing.T) {
		db := fresh(t)
		key, val := []byte("k"), []byte("value")
		update(t, db, func(tx store.Tx) error { return tx.Put("a", key, val) })
		val[0] = 'X'
		var got []byte
		view(t, db, func(tx store.Tx) (err error) { got, err = tx.Get("a", key); return err })
		mustGet(t, db, "a", "k", "value")
		got[0] = 'Y'
		mustGet(t, db, "a", "k", "value")
	})
	t.Run("ScanOrder", func(t *testing.T) {
		db := fresh(t)
		keys := [][]byte{{0x00}, {0x01}, {0x01, 0x00}, {0x7f}, {0x80}, {0xff}, {0xff, 0xff}, []byte("a"), []byte("ab"), []byte("b")}
		update(t, db, func(tx store.Tx) error {
			for i := len(keys) - 1; i >= 0; i-- {
				if err := tx.Put("s", keys[i], []byte{byte(i)}); err != nil {
					return err
				}
			}
			return tx.Put("s2", []byte("zzz"), nil) // a neighbouring namespace must not leak in
		})
		sorted := [][]byte{{0x00}, {0x01}, {0x01, 0x00}, []byte("a"), []byte("ab"), []byte("b"), {0x7f}, {0x80}, {0xff}, {0xff, 0xff}}
		reversed := make([][]byte, len(sorted))
		for i := range sorted {
			reversed[len(sorted)-1-i] = sorted[i]
		}
		cases := []struct {
			name  string
			from  []byte
			desc  bool
			limit int
			stop  int // fn returns false after this many (0 = never)
			want  [][]byte
		}{
			{"all asc", nil, false, 0, 0, sorted},
			{"all desc", nil, true, 0, 0, reversed},
			{"asc from", []byte("ab"), false, 0, 0, sorted[4:]},
			{"asc from absent", []byte("aa"), false, 0, 0, sorted[4:]},
			{"desc from", []byte("ab"), true, 0, 0, reversed[5:]},
			{"desc from absent", []byte("aa"), true, 0, 0, reversed[6:]},
			{"desc from past end", []byte{0xff, 0xff, 0xff}, true, 0, 0, reversed},
			{"desc from before start", []byte{}, true, 0, 0, nil},
			{"asc from past end", []byte{0xff, 0xff, 0xff}, false, 0, 0, nil},
			{"limit", nil, false, 3, 0, sorted[:3]},
			{"desc limit", nil, true, 2, 0, reversed[:2]},
			{"stop", nil, false, 0, 4, sorted[:4]},
		}
		for _, c := range cases {
			var got [][]byte
			view(t, db, func(tx store.Tx) error {
				return tx.Scan("s", c.from, c.desc, c.limit, func(k, v []byte) bool {
					got = append(got, k)
					return c.stop == 0 || len(got) < c.stop
				})
			})
			if !equalKeys(got, c.want) {
				t.Errorf("%s: got %x, want %x", c.name, got, c.want)
			}
		}
		var n int
		view(t, db, func(tx store.Tx) error {
			return tx.Scan("missing", nil, true, 0, func(k, v []byte) bool { n++; return true })
		})
		if n != 0 {
			t.Errorf("scan of a missing namespace visited %d keys", n)
		}
	})
	t.Run("ConcurrentInsertOneWins", func(t *testing.T) {
		db := fresh(t)
		const n = 16
		var wins, exists atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Update(ctx, func(tx store.Tx) error {
					return tx.Insert("c", []byte("k"), []byte(strconv.Itoa(i)))
				})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrExists):
					exists.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || exists.Load() != n-1 {
			t.Fatalf("%d inserts won and %d saw ErrExists; want 1 and %d", wins.Load(), exists.Load(), n-1)
		}
	})
	t.Run("ConcurrentReadModifyWrite", func(t *testing.T) {
		db := fresh(t)
		update(t, db, func(tx store.Tx) error { return tx.Put("c", []byte("n"), u64(0)) })
		const workers, each = 8, 10
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < each; j++ {
					err := db.Update(ctx, func(tx store.Tx) error {
						v, err := tx.Get("c", []byte("n"))
						if err != nil {
							return err
						}
						return tx.Put("c", []byte("n"), u64(binary.BigEndian.Uint64(v)+1))
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		var got []byte
		view(t, db, func(tx store.Tx) (err error) { got, err = tx.Get("c", []byte("n")); return err })
		if n := binary.BigEndian.Uint64(got); n != workers*each {
			t.Fatalf("counter = %d after %d increments: lost updates", n, workers*each)
		}
	})
	t.Run("Migrate", func(t *testing.T) {
		db := fresh(t)
		var ran []int
		step := func(v int) store.Migration {
			return store.Migration{Version: v, Name: "step" + strconv.Itoa(v), Up: func(tx store.Tx) error {
				ran = append(ran, v)
				return tx.Put("m", []byte{byte(v)}, []byte("x"))
			}}
		}
		ms := []store.Migration{step(1), step(2)}
		if err := store.Migrate(ctx, db, "comp", ms); err != nil {
			t.Fatal(err)
		}
		if err := store.Migrate(ctx, db, "comp", ms); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, step(3))
		if err := store.Migrate(ctx, db, "comp", ms); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ran) != "[1 2 3]" {
			t.Fatalf("migrations ran %v, want [1 2 3] (each once, in order)", ran)
		}
		if v, err := store.Version(ctx, db, "comp"); err != nil || v != 3 {
			t.Fatalf("Version = %d, %v; want 3", v, err)
		}
		if v, err := store.Version(ctx, db, "other"); err != nil || v != 0 {
			t.Fatalf("Version of an unmigrated component = %d, %v; want 0", v, err)
		}
		if err := store.Migrate(ctx, db, "comp", ms[:2]); err == nil {
			t.Fatal("an older program migrated a newer database without error")
		}
		if err := store.Migrate(ctx, db, "gap", []store.Migration{{Version: 2}}); err == nil {
			t.Fatal("migrations starting at 2 were accepted")
		}
		boom := errors.New("boom")
		bad := append(ms, store.Migration{Version: 4, Up: func(tx store.Tx) error {
			if err := tx.Put("m", []byte{4}, []byte("x")); err != nil {
				return err
			}
			return boom
		}})
		if err := store.Migrate(ctx, db, "comp", bad); !errors.Is(err, boom) {
			t.Fatalf("failing migration: %v, want boom", err)
		}
		if v, _ := store.Version(ctx, db, "comp"); v != 3 {
			t.Fatalf("version after a failed migration = %d, want 3", v)
		}
		err := db.View(ctx, func(tx store.Tx) error { _, err := tx.Get("m", []byte{4}); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("write of a failed migration is visible: %v", err)
		}
	})
	t.Run("ContextCancelled", func(t *testing.T) {
		db := fresh(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		called := false
		err := db.Update(cctx, func(tx store.Tx) error { called = true; return nil })
		if err == nil || called {
			t.Fatalf("Update with a cancelled context: err %v, fn called %v", err, called)
		}
	})
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func equalKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func update(t *testing.T, db store.DB, fn func(store.Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, db store.DB, fn func(store.Tx) error) {
	t.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, db store.DB, ns, key, want string) {
	t.Helper()
	var got []byte
	view(t, db, func(tx store.Tx) (err error) { got, err = tx.Get(ns, []byte(key)); return err })
	if string(got) != want {
		t.Fatalf("Get(%s, %s) = %q, want %q", ns, key, got, want)
	}
}
