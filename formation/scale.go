package formation

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxQuantity bounds one process type's quantity in ParseQuantities.
const MaxQuantity = 10000

// QuantityError is a malformed formation flag; Offset is the byte offset
// of the offending entry in the input.
type QuantityError struct {
	Input  string
	Offset int
	Reason string
}

func (e *QuantityError) Error() string {
	return fmt.Sprintf("formation: quantities %q at offset %d: %s", e.Input, e.Offset, e.Reason)
}

// ParseQuantities parses a formation flag such as "web=1,worker=2" into
// process type → quantity. A bare type ("web") means 1, as foreman and
// heroku local accept. Types must be letters, digits, '_' or '-' and may
// appear only once; quantities are 0..MaxQuantity.
func ParseQuantities(s string) (map[string]int, error) {
	out := map[string]int{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	offset := 0
	for _, entry := range strings.Split(s, ",") {
		fail := func(format string, args ...any) (map[string]int, error) {
			return nil, &QuantityError{Input: s, Offset: offset, Reason: fmt.Sprintf(format, args...)}
		}
		name, num, hasNum := strings.Cut(entry, "=")
		name = strings.TrimSpace(name)
		if name == "" {
			return fail("empty process type in %q", entry)
		}
		if i := strings.IndexFunc(name, func(r rune) bool { return !isTypeRune(r) }); i >= 0 {
			return fail("process type %q contains %q (allowed: letters, digits, '_', '-')", name, name[i:i+1])
		}
		if _, dup := out[name]; dup {
			return fail("process type %q given twice", name)
		}
		q := 1
		if hasNum {
			n, err := strconv.Atoi(strings.TrimSpace(num))
			if err != nil || n < 0 || n > MaxQuantity {
				return fail("quantity %q for %s must be an integer from 0 to %d", strings.TrimSpace(num), name, MaxQuantity)
			}
			q = n
		}
		out[name] = q
		offset += len(entry) + 1
	}
	return out, nil
}

// FormatQuantities is the inverse of ParseQuantities, types sorted.
func FormatQuantities(q map[string]int) string {
	types := make([]string, 0, len(q))
	for t := range q {
		types = append(types, t)
	}
	slices.Sort(types)
	var b strings.Builder
	for i, t := range types {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", t, q[t])
	}
	return b.String()
}

func isTypeRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}
