package dynoname

import "testing"

func TestOf(t *testing.T) {
	for _, tc := range []struct{ typ, pod, want string }{
		{"web", "shop-web-7d9b8f6c5-xk2jq", "web.xk2jq"},
		{"worker", "shop-worker-5f4d-abcde", "worker.abcde"},
		{"web", "nodash", "web.nodash"},
		{"web", "trailing-", "web"},
	} {
		if got := Of(tc.typ, tc.pod); got != tc.want {
			t.Errorf("Of(%q, %q) = %q, want %q", tc.typ, tc.pod, got, tc.want)
		}
	}
}
