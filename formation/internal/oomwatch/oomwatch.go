// Package oomwatch lets a runtime end a dyno when the kernel kills any of
// its processes for exceeding the memory limit, as Heroku restarts a dyno
// on R15: a worker process killed inside a dyno whose main process
// survives (Puma, Gunicorn, a Node cluster) would otherwise leave the dyno
// running without it.
package oomwatch

import "time"

// Every is how often a running dyno's cgroup is checked.
const Every = 500 * time.Millisecond

// Watch checks killed every Every until stop is closed, and calls end once,
// the first time killed reports an out-of-memory kill.
func Watch(stop <-chan struct{}, killed func() bool, end func()) {
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if killed() {
			end()
			return
		}
	}
}
