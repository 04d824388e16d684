package router

import (
	"testing"
	"time"
)

// Every service time lands in the bucket whose bounds hold it; buckets are
// contiguous and, from 4 ms up, at most a quarter of their lower bound wide.
func TestServiceBuckets(t *testing.T) {
	for ms := int64(0); ms < 1<<20; ms += 1 + ms/64 {
		i := serviceBucket(ms)
		lo, hi := ServiceTimeBucket(i)
		d := time.Duration(ms) * time.Millisecond
		if d < lo || hi != 0 && d >= hi {
			t.Fatalf("%d ms in bucket %d, which holds [%v, %v)", ms, i, lo, hi)
		}
	}
	for i := 0; i < serviceBuckets-1; i++ {
		lo, hi := ServiceTimeBucket(i)
		next, _ := ServiceTimeBucket(i + 1)
		if hi != next || hi <= lo {
			t.Errorf("bucket %d is [%v, %v), the next starts at %v", i, lo, hi, next)
		}
		if lo >= 4*time.Millisecond && hi-lo > lo/4 {
			t.Errorf("bucket %d is [%v, %v): wider than a quarter of its lower bound", i, lo, hi)
		}
	}
	if lo, hi := ServiceTimeBucket(serviceBuckets - 1); hi != 0 || lo != (1<<topExponent)*time.Millisecond {
		t.Errorf("last bucket [%v, %v), want [2^%d ms, no bound)", lo, hi, topExponent)
	}
	// The buckets under 2^e ms are exactly those whose upper bound is at
	// most 2^e ms.
	for e := 0; e <= topExponent; e++ {
		n := bucketsUnder(e)
		_, hi := ServiceTimeBucket(n - 1)
		_, next := ServiceTimeBucket(n)
		if le := time.Duration(1<<e) * time.Millisecond; hi > le || next != 0 && next <= le {
			t.Errorf("bucketsUnder(%d) = %d: bucket %d ends at %v, the next at %v", e, n, n-1, hi, next)
		}
	}
	if i := serviceBucket(-1); i != 0 {
		t.Errorf("a negative time lands in bucket %d", i)
	}
}
