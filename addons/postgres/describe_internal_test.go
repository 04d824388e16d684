package postgres

import "testing"

func TestDataSize(t *testing.T) {
	for _, c := range []struct {
		size, max int64
		want      string
	}{
		{0, 0, "0 bytes"},
		{1023, 0, "1023 bytes"},
		{1024, 0, "1 kB"},
		{8 << 10, 0, "8 kB"},
		{7969123, 0, "7.6 MB"},
		{1<<20 - 1, 0, "1 MB"},
		{1 << 30, 0, "1 GB"},
		{17 << 40, 0, "17 TB"},
		{7969123, 1 << 30, "7.6 MB / 1 GB (0.74%)"},
		{3 << 29, 1 << 30, "1.5 GB / 1 GB (150.00%)"},
	} {
		if got := dataSize(c.size, c.max); got != c.want {
			t.Errorf("dataSize(%d, %d) = %q, want %q", c.size, c.max, got, c.want)
		}
	}
}
