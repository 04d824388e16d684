package release

import (
	"fmt"
	"strconv"
	"strings"
)

// RangeField is the only field release listings sort and page by.
const RangeField = "version"

// RangeError reports a Range header that cannot be parsed. Offset is the
// byte offset in Header where the problem starts. An HTTP layer answers it
// with 416 requested_range_not_satisfiable.
type RangeError struct {
	Header string
	Offset int
	Rule   string
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("release: range %q: byte %d: %s", truncate(e.Header, 120), e.Offset, e.Rule)
}

// maxVersionDigits keeps parsed versions far from int overflow.
const maxVersionDigits = 9

// ParseRange parses a Platform API Range header for releases
// (heroku.md §9.2):
//
//	version ..
//	version 12..; max=10
//	version 3..9; order=asc, max=5;
//
// The field must be "version"; start and end are optional inclusive
// versions; options are max=1..1000 and order=asc|desc, separated by ';' or
// ','. Missing options take the ListOptions defaults (newest first, 200).
func ParseRange(h string) (ListOptions, error) {
	var o ListOptions
	fail := func(off int, format string, args ...any) (ListOptions, error) {
		return ListOptions{}, &RangeError{Header: h, Offset: off, Rule: fmt.Sprintf(format, args...)}
	}
	i := skipSpace(h, 0)
	start := i
	for i < len(h) && (h[i] >= 'a' && h[i] <= 'z' || h[i] == '_') {
		i++
	}
	if field := h[start:i]; field != RangeField {
		return fail(start, "sort field %q: releases sort only by %q", field, RangeField)
	}
	if i >= len(h) || h[i] != ' ' {
		return fail(i, "want a space after the field name")
	}
	i = skipSpace(h, i)
	rangeEnd := strings.IndexByte(h[i:], ';')
	if rangeEnd < 0 {
		rangeEnd = len(h)
	} else {
		rangeEnd += i
	}
	spec := h[i:rangeEnd]
	dots := strings.Index(spec, "..")
	if dots < 0 {
		return fail(i, `want "[start]..[end]"`)
	}
	var err error
	if o.Start, err = parseVersion(strings.TrimRight(spec[:dots], " ")); err != nil {
		return fail(i, "start: %v", err)
	}
	endOff := i + dots + 2
	if o.End, err = parseVersion(strings.Trim(spec[dots+2:], " ")); err != nil {
		return fail(endOff, "end: %v", err)
	}
	seen := map[string]bool{}
	for off := rangeEnd; off < len(h); {
		off++ // skip the separator
		next := strings.IndexAny(h[off:], ";,")
		if next < 0 {
			next = len(h)
		} else {
			next += off
		}
		opt := strings.Trim(h[off:next], " ")
		optOff := skipSpace(h, off)
		off = next
		if opt == "" {
			continue
		}
		key, val, ok := strings.Cut(opt, "=")
		if !ok {
			return fail(optOff, "option %q: want key=value", opt)
		}
		key, val = strings.Trim(key, " "), strings.Trim(val, " ")
		if seen[key] {
			return fail(optOff, "option %q given twice", key)
		}
		seen[key] = true
		switch key {
		case "max":
			n, err := parseVersion(val)
			if err != nil || n < 1 || n > MaxMax {
				return fail(optOff, "max %q: want 1..%d", val, MaxMax)
			}
			o.Max = n
		case "order":
			if val != string(Asc) && val != string(Desc) {
				return fail(optOff, "order %q: want asc or desc", val)
			}
			o.Order = Order(val)
		default:
			return fail(optOff, "unknown option %q (want max or order)", key)
		}
	}
	if o.Order == "" {
		o.Order = Desc
	}
	if o.Start != 0 && o.End != 0 {
		if o.Order == Desc && o.Start < o.End || o.Order == Asc && o.Start > o.End {
			return fail(i, "start %d and end %d are out of order for order=%s", o.Start, o.End, o.Order)
		}
	}
	return o, nil
}

func skipSpace(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func parseVersion(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > maxVersionDigits {
		return 0, fmt.Errorf("%q: more than %d digits", s, maxVersionDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q: not a decimal version", s)
		}
	}
	n, _ := strconv.Atoi(s)
	if n == 0 {
		return 0, fmt.Errorf("%q: versions start at 1", s)
	}
	return n, nil
}

// FormatRange writes o in the form ParseRange reads, with max and order
// always explicit: "version 12..; max=10, order=desc".
func FormatRange(o ListOptions) string {
	o, _ = o.Normalize()
	var b strings.Builder
	b.WriteString(RangeField + " ")
	if o.Start > 0 {
		b.WriteString(strconv.Itoa(o.Start))
	}
	b.WriteString("..")
	if o.End > 0 {
		b.WriteString(strconv.Itoa(o.End))
	}
	fmt.Fprintf(&b, "; max=%d, order=%s", o.Max, o.Order)
	return b.String()
}

// NextRange returns the options for the page after page, which List
// returned for o, and false when page was the last one (it was shorter than
// Max or reached the window's end or v1). An HTTP layer sends
// FormatRange(next) as Next-Range with 206 Partial Content.
func NextRange(o ListOptions, page []Release) (ListOptions, bool) {
	o, err := o.Normalize()
	if err != nil || len(page) < o.Max {
		return ListOptions{}, false
	}
	last := page[len(page)-1].Version
	next := o
	if o.Order == Desc {
		next.Start = last - 1
	} else {
		next.Start = last + 1
	}
	if next.Start < 1 || !o.Contains(next.Start) {
		return ListOptions{}, false
	}
	return next, true
}
