package formation

import (
	"errors"
	"maps"
	"testing"
)

var quantityTests = []struct {
	in      string
	want    map[string]int
	wantErr int // offset, -1 for success
}{
	{"", map[string]int{}, -1},
	{"web=1", map[string]int{"web": 1}, -1},
	{"web=1,worker=2", map[string]int{"web": 1, "worker": 2}, -1},
	{" web = 3 , worker=0", map[string]int{"web": 3, "worker": 0}, -1},
	{"web", map[string]int{"web": 1}, -1},
	{"web=1,,worker=2", nil, 6},
	{"web=x", nil, 0},
	{"web=-1", nil, 0},
	{"web=10001", nil, 0},
	{"web=1,web=2", nil, 6},
	{"we b=1", nil, 0},
	{"web=1,=2", nil, 6},
	{"web.1=1", nil, 0},
}

func TestParseQuantities(t *testing.T) {
	for _, tt := range quantityTests {
		got, err := ParseQuantities(tt.in)
		if tt.wantErr >= 0 {
			var qe *QuantityError
			if !errors.As(err, &qe) || qe.Offset != tt.wantErr {
				t.Errorf("ParseQuantities(%q) = %v, %v; want a QuantityError at offset %d", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("ParseQuantities(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseQuantities(f *testing.F) {
	for _, tt := range quantityTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantities(s)
		if err != nil {
			var qe *QuantityError
			if !errors.As(err, &qe) || qe.Offset < 0 || qe.Offset > len(s) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		// Round trip: formatting and parsing again gives the same map.
		again, err := ParseQuantities(FormatQuantities(q))
		if err != nil || !maps.Equal(q, again) {
			t.Fatalf("round trip of %q: %v, %v vs %v", s, again, err, q)
		}
	})
}
