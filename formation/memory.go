package formation

import "context"

// MemoryReader is implemented by dynos whose runtime can report their
// memory use (formation/local does when the dyno runs in a cgroup). The
// Reconciler polls it to report R14-style memory warnings.
type MemoryReader interface {
	Memory(ctx context.Context) (MemoryUsage, error)
}

// MemoryUsage is a dyno's current memory use and its limit (0 = none).
// The breakdown is 0 where the runtime does not know it.
type MemoryUsage struct {
	UsedBytes  int64
	LimitBytes int64
	RSSBytes   int64 // anonymous memory (heap, stacks)
	CacheBytes int64 // page cache charged to the dyno
	SwapBytes  int64
}

// ListenChecker is implemented by dynos whose runtime can tell whether one
// of the dyno's processes listens on a TCP port (formation/local and
// formation/oci do). A platform uses it, through Reconciler.DynoListens, to
// let its router verify a dyno's identity: an address whose dyno stopped
// may be taken by another app's dyno before the router hears of the stop.
type ListenChecker interface {
	Listens(port int) (bool, error)
}
