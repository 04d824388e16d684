package kubernetes

import "testing"

// cpuMillis inverts the kubelet's request-to-shares conversion
// (shares = milli*1024/1000, rounded down): every CPUShares gets a request
// whose kubelet shares are its own, or one more where no request maps
// exactly, and whole CPU shares are whole CPUs.
func TestCPUMillis(t *testing.T) {
	kubelet := func(milli int64) int64 { return max(milli*1024/1000, 2) }
	for s := int64(2); s <= 1<<18; s++ {
		if got := kubelet(cpuMillis(s)); got != s && got != s+1 {
			t.Fatalf("shares %d: request %dm gives kubelet shares %d", s, cpuMillis(s), got)
		}
	}
	for _, tc := range []struct{ shares, milli int64 }{{1, 1}, {512, 500}, {1024, 1000}, {2048, 2000}, {12288, 12000}, {51200, 50000}} {
		if got := cpuMillis(tc.shares); got != tc.milli {
			t.Errorf("cpuMillis(%d) = %d, want %d", tc.shares, got, tc.milli)
		}
	}
}
