package release_test

import (
	"errors"
	"testing"

	"github.com/dynokit/dynokit/release"
)

var rangeTests = []struct {
	in     string
	want   release.ListOptions
	errOff int // -1: no error
}{
	{"version ..", release.ListOptions{Order: release.Desc}, -1},
	{"version ..;", release.ListOptions{Order: release.Desc}, -1},
	{"version ..; max=10;", release.ListOptions{Max: 10, Order: release.Desc}, -1},
	{"version 12..; max=10", release.ListOptions{Start: 12, Max: 10, Order: release.Desc}, -1},
	{"version 3..9; order=asc, max=5;", release.ListOptions{Start: 3, End: 9, Max: 5, Order: release.Asc}, -1},
	{"version ..; order=desc,max=10;", release.ListOptions{Max: 10, Order: release.Desc}, -1},
	{"  version   7..2 ; max = 3 ; order = desc", release.ListOptions{Start: 7, End: 2, Max: 3, Order: release.Desc}, -1},
	{"version ..4", release.ListOptions{End: 4, Order: release.Desc}, -1},
	{"version 1..; max=1000", release.ListOptions{Start: 1, Max: 1000, Order: release.Desc}, -1},
	{"", release.ListOptions{}, 0},
	{"id ..; max=10", release.ListOptions{}, 0},
	{"name ..", release.ListOptions{}, 0},
	{"version", release.ListOptions{}, 7},
	{"version 12", release.ListOptions{}, 8},
	{"version x..", release.ListOptions{}, 8},
	{"version 0..", release.ListOptions{}, 8},
	{"version -1..", release.ListOptions{}, 8},
	{"version 1234567890..", release.ListOptions{}, 8},
	{"version ..x", release.ListOptions{}, 10},
	{"version ..; max=0", release.ListOptions{}, 12},
	{"version ..; max=1001", release.ListOptions{}, 12},
	{"version ..; max=ten", release.ListOptions{}, 12},
	{"version ..; order=up", release.ListOptions{}, 12},
	{"version ..; max=1, max=2", release.ListOptions{}, 19},
	{"version ..; limit=2", release.ListOptions{}, 12},
	{"version ..; max", release.ListOptions{}, 12},
	{"version 2..9", release.ListOptions{}, 8},
	{"version 9..2; order=asc", release.ListOptions{}, 8},
}

func TestParseRange(t *testing.T) {
	for _, tt := range rangeTests {
		got, err := release.ParseRange(tt.in)
		if tt.errOff >= 0 {
			var re *release.RangeError
			if !errors.As(err, &re) {
				t.Errorf("ParseRange(%q) = %+v, %v; want a *RangeError", tt.in, got, err)
				continue
			}
			if re.Offset != tt.errOff || re.Header != tt.in {
				t.Errorf("ParseRange(%q): error at byte %d (%v), want byte %d", tt.in, re.Offset, err, tt.errOff)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRange(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatRange(t *testing.T) {
	tests := []struct {
		in   release.ListOptions
		want string
	}{
		{release.ListOptions{}, "version ..; max=200, order=desc"},
		{release.ListOptions{Start: 12, Max: 10}, "version 12..; max=10, order=desc"},
		{release.ListOptions{Start: 3, End: 9, Max: 5, Order: release.Asc}, "version 3..9; max=5, order=asc"},
	}
	for _, tt := range tests {
		if got := release.FormatRange(tt.in); got != tt.want {
			t.Errorf("FormatRange(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNextRange(t *testing.T) {
	page := func(vs ...int) []release.Release {
		var out []release.Release
		for _, v := range vs {
			out = append(out, release.Release{Version: v})
		}
		return out
	}
	tests := []struct {
		opt  release.ListOptions
		page []release.Release
		want release.ListOptions
		ok   bool
	}{
		{release.ListOptions{Max: 3}, page(10, 9, 8), release.ListOptions{Start: 7, Max: 3, Order: release.Desc}, true},
		{release.ListOptions{Max: 3}, page(3, 2, 1), release.ListOptions{}, false},
		{release.ListOptions{Max: 3}, page(5, 4), release.ListOptions{}, false},
		{release.ListOptions{Max: 2, Order: release.Asc}, page(1, 2), release.ListOptions{Start: 3, Max: 2, Order: release.Asc}, true},
		{release.ListOptions{Max: 2, Order: release.Asc, End: 2}, page(1, 2), release.ListOptions{}, false},
		{release.ListOptions{Max: 2, End: 5}, page(7, 6), release.ListOptions{Start: 5, End: 5, Max: 2, Order: release.Desc}, true},
	}
	for _, tt := range tests {
		got, ok := release.NextRange(tt.opt, tt.page)
		if ok != tt.ok || got != tt.want {
			t.Errorf("NextRange(%+v, %d items) = %+v, %v; want %+v, %v", tt.opt, len(tt.page), got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, tt := range rangeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		o, err := release.ParseRange(in)
		if err != nil {
			var re *release.RangeError
			if !errors.As(err, &re) || re.Offset < 0 || re.Offset > len(in) {
				t.Fatalf("ParseRange(%q): %v is not a *RangeError with an offset inside the input", in, err)
			}
			return
		}
		if _, err := o.Normalize(); err != nil {
			t.Fatalf("ParseRange(%q) = %+v, which does not normalize: %v", in, o, err)
		}
		// Canonical form round-trips.
		canon := release.FormatRange(o)
		o2, err := release.ParseRange(canon)
		if err != nil {
			t.Fatalf("FormatRange(%+v) = %q does not parse: %v", o, canon, err)
		}
		n1, _ := o.Normalize()
		if o2 != n1 {
			t.Fatalf("%q → %+v → %q → %+v", in, n1, canon, o2)
		}
	})
}
