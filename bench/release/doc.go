// Package releasebench measures the release stores side by side in one
// run: appends per second and List latency with 10,000 releases in the
// history, for memstore, boltstore (bbolt, fsync on every commit) and
// pgstore (a local PostgreSQL started by the benchmark, fsync on).
//
//	DYNOKIT_BENCH=1 go test -run TestCompare -v -timeout 20m ./bench/release/
//	go test -run '^$' -bench . -benchtime 2000x ./bench/release/
//
// TestCompare alternates between stores, repeats every measurement and
// prints medians and the ratios between stores; the testing.B benchmarks
// give the same figures in benchstat form.
package releasebench
