package output

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// jsonw writes one JSON object per line, as bpftrace -f json does.
type jsonw struct {
	w *bufio.Writer
}

func (j *jsonw) Attached(probes int) {
	fmt.Fprintf(j.w, `{"type": "attached_probes", "data": {"probes": %d}}`+"\n", probes)
}

func (j *jsonw) Printf(s string) {
	j.w.WriteString(`{"type": "printf", "data": ` + quote(s) + "}\n")
}

func (j *jsonw) Join(s string) {
	j.w.WriteString(`{"type": "join", "data": ` + quote(s) + "}\n")
}

// Value writes {"type": "value", "data": V}; a tuple is an array.
func (j *jsonw) Value(v any) {
	j.w.WriteString(`{"type": "value", "data": ` + jsonOf(v) + "}\n")
}

// jsonOf is a value in JSON: strings quoted, tuples and arrays as arrays
// without spaces, as bpftrace writes them, records as objects.
func jsonOf(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case Tuple:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = jsonOf(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case bool:
		return strconv.FormatBool(x)
	case Record:
		parts := make([]string, len(x.Names))
		for i, name := range x.Names {
			parts[i] = quote(name) + ": " + jsonOf(x.Values[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case Array:
		return jsonOf(Tuple(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return quote(number(x)) // JSON has no NaN or infinity
		}
	}
	return number(v)
}

func (j *jsonw) Lost(events uint64) {
	fmt.Fprintf(j.w, `{"type": "lost_events", "data": {"events": %d}}`+"\n", events)
}

// End writes each map as one JSON line. bpftrace opens with two bare
// newlines even in JSON mode; ebtrace does not, so every line parses.
func (j *jsonw) End(maps []*Map) {
	for _, m := range byName(maps) {
		j.Print(m)
	}
}

// Print writes {"type": T, "data": {"@name": V}}, where T is "hist" for
// histograms, "stats" for avg() and stats(), "tseries" for time series
// and "map" otherwise, and V is
// the value, or for a keyed map an object from key to value. An empty map
// writes nothing, except an unkeyed count(), which is 0.
func (j *jsonw) Print(m *Map) {
	entries := shown(m)
	if len(entries) == 0 {
		return
	}
	kind := "map"
	switch m.Kind {
	case Hist, LHist:
		kind = "hist"
	case Avg, Stats:
		kind = "stats"
	case TSeries:
		kind = "tseries"
	}
	var data string
	if m.Keyed {
		items := make([]string, len(entries))
		for i, e := range entries {
			items[i] = quote(jsonKey(m, e.Key)) + ": " + jsonValue(m, e.Value)
		}
		data = "{" + strings.Join(items, ", ") + "}"
	} else {
		data = jsonValue(m, entries[0].Value)
	}
	j.w.WriteString(`{"type": "` + kind + `", "data": {` + quote(m.Name) + ": " + data + "}}\n")
}

// jsonKey is a key as the name of a JSON member: its parts joined by
// commas.
func jsonKey(m *Map, key []any) string {
	parts := make([]string, len(key))
	for i, p := range key {
		parts[i] = keyPart(m, p)
	}
	return strings.Join(parts, ",")
}

func jsonValue(m *Map, v any) string {
	switch m.Kind {
	case String:
		return jsonOf(v)
	case Stats:
		s, _ := v.(StatsValue)
		return fmt.Sprintf(`{"count": %d, "average": %d, "total": %d}`, s.Count, average(s, m.Div), s.Total)
	case TSeries:
		return tseriesJSON(v)
	case Hist, LHist:
		rows := buckets(m, v)
		items := make([]string, len(rows))
		for i, r := range rows {
			var b strings.Builder
			b.WriteString("{")
			if r.min != "" {
				b.WriteString(`"min": ` + r.min + ", ")
			}
			if r.max != "" {
				b.WriteString(`"max": ` + r.max + ", ")
			}
			b.WriteString(`"count": ` + strconv.FormatUint(r.count, 10) + "}")
			items[i] = b.String()
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return jsonOf(v)
}

// quote makes s a JSON string the way bpftrace does: \" \\ \n \t \r, other
// control bytes as \u00XX, and bytes from 0x80 up as \uffffffXX, which is
// bpftrace sign-extending a C char (it does not decode UTF-8).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		case c >= 0x80:
			fmt.Fprintf(&b, `\uffffff%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (j *jsonw) Flush() error { return j.w.Flush() }
