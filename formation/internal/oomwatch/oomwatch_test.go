package oomwatch

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checks, ends := 0, 0
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			Watch(stop, func() bool { checks++; return checks == 3 }, func() { ends++ })
		}()
		time.Sleep(10 * Every)
		synctest.Wait()
		<-done // returned after the kill, without stop
		if checks != 3 || ends != 1 {
			t.Errorf("%d checks, %d ends; want 3 and 1", checks, ends)
		}
		close(stop)
	})
	synctest.Test(t, func(t *testing.T) {
		stop := make(chan struct{})
		done := make(chan struct{})
		checks := 0
		go func() {
			defer close(done)
			Watch(stop, func() bool { checks++; return false }, func() { t.Error("end called without a kill") })
		}()
		time.Sleep(2*Every + Every/2)
		close(stop)
		<-done
		if checks != 2 {
			t.Errorf("%d checks before stop, want 2", checks)
		}
	})
}
