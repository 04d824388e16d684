package dotenv

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// fromJSON reads a .env file that is a JSON document, as heroku local does:
// nested keys are joined with '_' and upper-cased, arrays count from 0,
// numbers and booleans become their JavaScript text, null and empty
// containers define nothing.
func fromJSON(src string) *Env {
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		// json.Valid accepted src, so this cannot happen; read nothing
		// rather than guess.
		return &Env{}
	}
	env := &Env{}
	index := make(map[string]int)
	// JavaScript's toUpperCase uses full case mapping ("ß" becomes "SS");
	// strings.ToUpper does not.
	upper := cases.Upper(language.Und)
	emit := func(path []string, val string) {
		key := upper.String(strings.Join(path, "_"))
		if i, ok := index[key]; ok {
			env.Vars[i].Value = val
			return
		}
		index[key] = len(env.Vars)
		env.Vars = append(env.Vars, Var{Key: key, Value: val})
	}
	if s, ok := v.(string); ok {
		// for-in over a top-level string visits its UTF-16 code units.
		for i, u := range utf16.Encode([]rune(s)) {
			emit([]string{strconv.Itoa(i)}, string(utf16.Decode([]uint16{u})))
		}
		return env
	}
	walk(v, nil, emit)
	return env
}

// object is a JSON object as JavaScript sees it: a duplicate key keeps its
// first position and takes the last value.
type object struct {
	keys []string
	vals map[string]any
}

// forIn returns the keys in for-in order: array-index keys ascending, then
// the others in insertion order.
func (o *object) forIn() []string {
	var idx []string
	var rest []string
	for _, k := range o.keys {
		if isArrayIndex(k) {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	sortIndexKeys(idx)
	return append(idx, rest...)
}

func isArrayIndex(k string) bool {
	if k == "" || len(k) > 10 || (k[0] == '0' && len(k) > 1) {
		return false
	}
	n, err := strconv.ParseUint(k, 10, 64)
	return err == nil && n < math.MaxUint32
}

func sortIndexKeys(keys []string) {
	// Insertion sort on numeric value; objects are small.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && indexLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func indexLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func walk(v any, path []string, emit func([]string, string)) {
	switch v := v.(type) {
	case *object:
		for _, k := range v.forIn() {
			visit(v.vals[k], append(path[:len(path):len(path)], k), emit)
		}
	case []any:
		for i, item := range v {
			visit(item, append(path[:len(path):len(path)], strconv.Itoa(i)), emit)
		}
	}
	// Numbers, booleans, strings (below the top) and null have no keys.
}

// visit is the body of node-foreman's walk: objects, arrays and null
// (typeof "object") are walked, anything else is a value.
func visit(item any, path []string, emit func([]string, string)) {
	switch item := item.(type) {
	case *object, []any, nil:
		walk(item, path, emit)
	case string:
		emit(path, item)
	case bool:
		emit(path, strconv.FormatBool(item))
	case json.Number:
		f, _ := strconv.ParseFloat(string(item), 64) // ±Inf on overflow, like JavaScript
		emit(path, jsNumber(f))
	}
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			var arr []any
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		o := &object{vals: make(map[string]any)}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := o.vals[k]; !dup {
				o.keys = append(o.keys, k)
			}
			o.vals[k] = v
		}
		_, err := dec.Token()
		return o, err
	default:
		return t, nil // string, json.Number, bool or nil
	}
}

// jsNumber formats f as JavaScript's Number.prototype.toString does.
func jsNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// Shortest digits that round-trip, as d.ddde±x.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	es := "+"
	if n-1 < 0 {
		es = "-"
	}
	m := digits[:1]
	if k > 1 {
		m += "." + digits[1:]
	}
	return sign + m + "e" + es + strconv.Itoa(abs(n-1))
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
