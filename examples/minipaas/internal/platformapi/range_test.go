package platformapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRange(t *testing.T) {
	fields := []string{"version", "id", "created_at"}
	for _, tc := range []struct {
		header string
		want   Range
	}{
		{"", Range{Field: "version", Max: 200}},
		{"version ..; order=desc,max=1", Range{Field: "version", Max: 1, Desc: true}},
		{"version ..; max=15, order=desc", Range{Field: "version", Max: 15, Desc: true}},
		{"id ..; max=10;", Range{Field: "id", Max: 10}},
		{"id ..; order=desc;", Range{Field: "id", Max: 200, Desc: true}},
		{"id ..; order=asc, max=5", Range{Field: "id", Max: 5}},
		{"id ]01234567-89ab..; max=200", Range{Field: "id", Start: "01234567-89ab", StartExclusive: true, Max: 200}},
		{"version ]25..; max=15, order=desc", Range{Field: "version", Start: "25", StartExclusive: true, Max: 15, Desc: true}},
		{"version 3..7", Range{Field: "version", Start: "3", End: "7", Max: 200}},
		{"version ..", Range{Field: "version", Max: 200}},
		{"version", Range{Field: "version", Max: 200}},
		{"version..; max=2", Range{Field: "version", Max: 2}},
		{"  created_at 2024-01-01T00:00:00Z..;max=3 ; order=desc ", Range{Field: "created_at", Start: "2024-01-01T00:00:00Z", Max: 3, Desc: true}},
		{"id ..; max=5000", Range{Field: "id", Max: 1000}},
	} {
		got, err := ParseRange(tc.header, fields...)
		if err != nil {
			t.Errorf("ParseRange(%q): %v", tc.header, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseRange(%q) (-want +got):\n%s", tc.header, diff)
		}
	}
}

func TestParseRangeErrors(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"name ..", `field "name" is not sortable here; use one of: version, id`},
		{"id ..; max=0", `max="0" is not a positive integer`},
		{"id ..; max=ten", `max="ten" is not a positive integer`},
		{"id ..; order=up", `order="up" is neither asc nor desc`},
		{"id ..; size=3", `unknown parameter "size"`},
		{"id ..; max=3, max=4", `parameter "max" is given twice`},
		{"id ..; max", `parameter "max" is not key=value`},
		{"id 5", `lack ".."`},
		{"id 1..2..3", `more than one ".."`},
		{"id ]..", `exclusive start "]" needs a value`},
		{"id a b..", `contain a space`},
	} {
		_, err := ParseRange(tc.header, "version", "id")
		apiErr, ok := err.(*Error)
		if !ok || apiErr.Status != 416 || apiErr.ID != IDRangeNotSatisfiable || !strings.Contains(apiErr.Message, tc.want) || !strings.Contains(apiErr.Message, strconv.Quote(tc.header)) {
			t.Errorf("ParseRange(%q) = %v, want a 416 naming the header and containing %q", tc.header, err, tc.want)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"", "version ..; order=desc,max=1", "version ..; max=15, order=desc", "id ]abc..; max=200", "name ..", "version 1..9; max=3;", "id ..; max=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r, err := ParseRange(header, "version", "id", "name")
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Status != 416 {
				t.Fatalf("ParseRange(%q) error %v is not a 416 *Error", header, err)
			}
			return
		}
		if r.Max < 1 || r.Max > MaxPageSize {
			t.Fatalf("ParseRange(%q).Max = %d", header, r.Max)
		}
		// What we format (Next-Range, Content-Range) must parse back.
		again, err := ParseRange(r.String(), "version", "id", "name")
		if err != nil || again != r {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v, %v", header, r, r.String(), again, err)
		}
	})
}

type rel struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
}

var relFields = []Field[rel]{
	{Name: "version", Key: func(r rel) string { return strconv.Itoa(r.Version) }, Numeric: true},
	{Name: "id", Key: func(r rel) string { return r.ID }},
}

func releases(n int) []rel {
	var out []rel
	for v := n; v >= 1; v-- { // stored out of order on purpose
		out = append(out, rel{Version: v, ID: "id-" + strconv.Itoa(v)})
	}
	return out
}

func versions(rs []rel) []int {
	out := []int{}
	for _, r := range rs {
		out = append(out, r.Version)
	}
	return out
}

func TestPageOfWalksEveryItemOnce(t *testing.T) {
	items := releases(40)
	for _, tc := range []struct {
		header string
		want   []int // concatenated pages
		pages  int
	}{
		{"version ..; max=15, order=desc", seq(40, 1), 3},
		{"version ..; max=15", seq(1, 40), 3},
		{"version ..; max=40", seq(1, 40), 1},
		{"version ..; max=20", seq(1, 40), 2},
		{"version 5..9; max=2", seq(5, 9), 3},
		{"version 9..5; max=2, order=desc", seq(9, 5), 3},
		{"version ]38..", []int{39, 40}, 1},
		{"version ..; order=desc,max=1", []int{40}, -1}, // first page only
		// ids sort as strings: id-1, id-10, ..., id-19, id-2, id-20, ...
		{"id ]id-38..; max=5", []int{39, 4, 40, 5, 6}, -1},
	} {
		r, err := ParseRange(tc.header, "version", "id")
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		pages := 0
		for {
			page, next, err := PageOf(items, r, relFields...)
			if err != nil {
				t.Fatalf("%q: %v", tc.header, err)
			}
			pages++
			got = append(got, versions(page)...)
			if next == "" || tc.pages < 0 {
				break
			}
			if len(page) != r.Max {
				t.Errorf("%q: a page of %d with Next-Range %q, want full pages of %d before the last", tc.header, len(page), next, r.Max)
			}
			if r, err = ParseRange(next, "version", "id"); err != nil {
				t.Fatalf("%q: Next-Range %q does not parse: %v", tc.header, next, err)
			}
			if pages > 100 {
				t.Fatalf("%q: Next-Range never ends", tc.header)
			}
		}
		if tc.pages < 0 {
			got = got[:min(len(got), len(tc.want))]
		} else if pages != tc.pages {
			t.Errorf("%q: %d pages, want %d", tc.header, pages, tc.pages)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.header, diff)
		}
	}
	if _, _, err := PageOf(items, Range{Field: "version", Start: "x", Max: 5}, relFields...); err == nil {
		t.Error("PageOf with a non-numeric version bound succeeded")
	}
}

func seq(from, to int) []int {
	var out []int
	step := 1
	if to < from {
		step = -1
	}
	for v := from; v != to+step; v += step {
		out = append(out, v)
	}
	return out
}

func TestPaginateHeadersAndStatus(t *testing.T) {
	for _, tc := range []struct {
		name, rangeHeader         string
		n                         int
		status                    int
		contentRange, nextRange   string
		firstVersion, lastVersion int
	}{
		{"cli releases", "version ..; max=15, order=desc", 40, 206, "version 40..26; max=15, order=desc", "version ]26..; max=15, order=desc", 40, 26},
		{"last page", "version ]15..; max=15, order=desc", 40, 200, "version 14..1; max=15, order=desc", "", 14, 1},
		{"exactly one page", "version ..; max=15, order=desc", 15, 200, "version 15..1; max=15, order=desc", "", 15, 1},
		{"config:set", "version ..; order=desc,max=1", 3, 206, "version 3..3; max=1, order=desc", "version ]3..; max=1, order=desc", 3, 3},
		{"default", "", 5, 200, "version 1..5; max=200", "", 1, 5},
		{"empty", "", 0, 200, "version ..; max=200", "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/apps/demo/releases", nil)
			if tc.rangeHeader != "" {
				req.Header.Set("Range", tc.rangeHeader)
			}
			rec := httptest.NewRecorder()
			if err := Paginate(rec, req, releases(tc.n), relFields...); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
			}
			if got, ok := rec.Header()["Next-Range"]; tc.nextRange == "" && ok || tc.nextRange != "" && (len(got) != 1 || got[0] != tc.nextRange) {
				t.Errorf("Next-Range %q, want %q", got, tc.nextRange)
			}
			if got := rec.Header().Get("Accept-Ranges"); got != "version, id" {
				t.Errorf("Accept-Ranges %q", got)
			}
			body := strings.TrimSpace(rec.Body.String())
			if tc.n == 0 && body != "[]" {
				t.Errorf("empty list body %q, want []", body)
			}
			if tc.n > 0 && (!strings.HasPrefix(body, `[{"version":`+strconv.Itoa(tc.firstVersion)+`,`) || !strings.Contains(body, `{"version":`+strconv.Itoa(tc.lastVersion)+`,"id":"id-`+strconv.Itoa(tc.lastVersion)+`"}]`)) {
				t.Errorf("body %s, want versions %d..%d", body, tc.firstVersion, tc.lastVersion)
			}
		})
	}
	req := httptest.NewRequest("GET", "/apps/demo/releases", nil)
	req.Header.Set("Range", "name ..")
	if err := Paginate(httptest.NewRecorder(), req, releases(3), relFields...); err == nil {
		t.Error("Paginate accepted a Range on an unknown field")
	} else if e := err.(*Error); e.Status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("bad Range: %v", err)
	}
}
