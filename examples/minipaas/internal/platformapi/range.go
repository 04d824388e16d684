package platformapi

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Page sizes of list responses (reference §9.2).
const (
	DefaultPageSize = 200
	MaxPageSize     = 1000
)

// Range is a parsed Range request header:
//
//	<field> [[ "]" ]<start>]..[<end>] [; max=<n>] [, order=asc|desc] [;]
//
// Parameters are separated by commas or semicolons with optional spaces, so
// both forms the CLI sends parse: "version ..; order=desc,max=1" and
// "version ..; max=15, order=desc". A start prefixed with "]" is exclusive:
// that is the form Next-Range uses to continue after the last item.
type Range struct {
	Field          string
	Start          string // "" means from the first item in Order
	StartExclusive bool
	End            string // "" means to the last item; inclusive
	Max            int    // page size, 1..MaxPageSize
	Desc           bool   // order=desc
}

// String formats r as a Range header value that ParseRange accepts.
func (r Range) String() string {
	var b strings.Builder
	b.WriteString(r.Field)
	b.WriteByte(' ')
	if r.StartExclusive {
		b.WriteByte(']')
	}
	b.WriteString(r.Start)
	b.WriteString("..")
	b.WriteString(r.End)
	fmt.Fprintf(&b, "; max=%d", r.Max)
	if r.Desc {
		b.WriteString(", order=desc")
	}
	return b.String()
}

func rangeError(header, format string, args ...any) *Error {
	return Errorf(http.StatusRequestedRangeNotSatisfiable, IDRangeNotSatisfiable,
		"Invalid Range header %q: %s.", header, fmt.Sprintf(format, args...))
}

// ParseRange parses a Range header for a list whose sortable fields are
// fields (the first is the default). An empty header gives the default range:
// first field, ascending, DefaultPageSize. A max above MaxPageSize is capped.
// Errors are *Error with status 416 and id requested_range_not_satisfiable.
func ParseRange(header string, fields ...string) (Range, error) {
	if len(fields) == 0 {
		return Range{}, Errorf(http.StatusInternalServerError, IDInternalServerError, "platformapi: ParseRange needs at least one field")
	}
	r := Range{Field: fields[0], Max: DefaultPageSize}
	h := strings.TrimSpace(header)
	if h == "" {
		return r, nil
	}
	spec, params, _ := strings.Cut(h, ";")
	spec = strings.TrimSpace(spec)
	field, bounds, ok := strings.Cut(spec, " ")
	if !ok {
		// "version.." or just "version": no bounds given.
		field, bounds = spec, ".."
		if f, rest, found := strings.Cut(spec, ".."); found {
			field, bounds = f, ".."+rest
		}
	}
	if !slices.Contains(fields, field) {
		return Range{}, rangeError(header, "field %q is not sortable here; use one of: %s", field, strings.Join(fields, ", "))
	}
	r.Field = field
	bounds = strings.TrimSpace(bounds)
	start, end, found := strings.Cut(bounds, "..")
	if !found {
		return Range{}, rangeError(header, "bounds %q lack \"..\" (want e.g. \"%s ..\")", bounds, field)
	}
	if strings.Contains(end, "..") {
		return Range{}, rangeError(header, "bounds %q have more than one \"..\"", bounds)
	}
	if s, excl := strings.CutPrefix(start, "]"); excl {
		if s == "" {
			return Range{}, rangeError(header, "exclusive start \"]\" needs a value")
		}
		r.StartExclusive, start = true, s
	}
	if strings.ContainsAny(start+end, " \t,;=]") {
		return Range{}, rangeError(header, "bounds %q contain a space or one of , ; = ]", bounds)
	}
	r.Start, r.End = start, end

	seen := map[string]bool{}
	for _, p := range strings.FieldsFunc(params, func(c rune) bool { return c == ',' || c == ';' }) {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		key, val, ok := strings.Cut(p, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok {
			return Range{}, rangeError(header, "parameter %q is not key=value", p)
		}
		if seen[key] {
			return Range{}, rangeError(header, "parameter %q is given twice", key)
		}
		seen[key] = true
		switch key {
		case "max":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return Range{}, rangeError(header, "max=%q is not a positive integer", val)
			}
			r.Max = min(n, MaxPageSize)
		case "order":
			switch val {
			case "asc":
				r.Desc = false
			case "desc":
				r.Desc = true
			default:
				return Range{}, rangeError(header, "order=%q is neither asc nor desc", val)
			}
		default:
			return Range{}, rangeError(header, "unknown parameter %q (want max or order)", key)
		}
	}
	return r, nil
}

// Field describes a sortable field of T for Paginate.
type Field[T any] struct {
	Name string
	// Key returns the field's value of an item as it appears in Range
	// headers (e.g. "42" for version 42).
	Key func(T) string
	// Numeric compares keys as integers (release versions); otherwise
	// they compare as strings (ids, names, RFC 3339 timestamps).
	Numeric bool
}

func (f Field[T]) compare(a, b string) int {
	if f.Numeric {
		x, errX := strconv.ParseInt(a, 10, 64)
		y, errY := strconv.ParseInt(b, 10, 64)
		if errX == nil && errY == nil {
			return cmp.Compare(x, y)
		}
	}
	return strings.Compare(a, b)
}

// PageOf selects the page of items that r asks for, sorted by r.Field (in
// r's order; ties keep their order in items). It reports the Next-Range
// value, or "" when this page reaches the end: never announce a next page
// that does not exist, or the CLI keeps asking.
func PageOf[T any](items []T, r Range, fields ...Field[T]) (page []T, next string, err error) {
	i := slices.IndexFunc(fields, func(f Field[T]) bool { return f.Name == r.Field })
	if i < 0 {
		return nil, "", rangeError(r.String(), "field %q is not sortable here", r.Field)
	}
	f := fields[i]
	if f.Numeric {
		for _, b := range []string{r.Start, r.End} {
			if _, err := strconv.ParseInt(b, 10, 64); b != "" && err != nil {
				return nil, "", rangeError(r.String(), "%s bound %q is not an integer", f.Name, b)
			}
		}
	}
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b T) int {
		c := f.compare(f.Key(a), f.Key(b))
		if r.Desc {
			return -c
		}
		return c
	})
	// pos compares a key with a bound in the direction of travel.
	pos := func(key, bound string) int {
		c := f.compare(key, bound)
		if r.Desc {
			return -c
		}
		return c
	}
	page = make([]T, 0, min(len(sorted), r.Max))
	more := false
	for _, it := range sorted {
		k := f.Key(it)
		if r.Start != "" {
			if c := pos(k, r.Start); c < 0 || (c == 0 && r.StartExclusive) {
				continue
			}
		}
		if r.End != "" && pos(k, r.End) > 0 {
			break
		}
		if len(page) == r.Max {
			more = true
			break
		}
		page = append(page, it)
	}
	if more {
		n := r
		n.Start, n.StartExclusive = f.Key(page[len(page)-1]), true
		next = n.String()
	}
	return page, next, nil
}

// Paginate answers a list request: it parses the Range header against fields
// (the first is the default sort), writes Accept-Ranges and Content-Range,
// and the page as a JSON array, with 206 and Next-Range when more items
// follow and 200 otherwise. A bad Range gets 416.
func Paginate[T any](w http.ResponseWriter, req *http.Request, items []T, fields ...Field[T]) error {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	r, err := ParseRange(req.Header.Get("Range"), names...)
	if err != nil {
		return err
	}
	page, next, err := PageOf(items, r, fields...)
	if err != nil {
		return err
	}
	f := fields[slices.IndexFunc(fields, func(f Field[T]) bool { return f.Name == r.Field })]
	w.Header().Set("Accept-Ranges", strings.Join(names, ", "))
	cr := Range{Field: r.Field, Max: r.Max, Desc: r.Desc}
	if len(page) > 0 {
		cr.Start, cr.End = f.Key(page[0]), f.Key(page[len(page)-1])
	}
	w.Header().Set("Content-Range", cr.String())
	status := http.StatusOK
	if next != "" {
		w.Header().Set("Next-Range", next)
		status = http.StatusPartialContent
	}
	WriteJSON(w, status, page)
	return nil
}
