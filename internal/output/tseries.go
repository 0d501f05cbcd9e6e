package output

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Time series print as current bpftrace draws them: a graph on its side,
// one row per interval, the value's position between the least and the
// greatest value shown, and a '.' column at zero when the range spans it.

const (
	graphWidth = 53 // columns from the left border to the right one
	graphLabel = 21 // columns of the least value's label above and below
)

// timeUnit is how finely interval starts print: in the unit of the
// interval (seconds print no fraction), with its name for the header.
// bpftrace takes the unit from the distance between the first and the
// last row shown, which is the interval whenever two rows are.
func timeUnit(interval int64) (name string, digits int) {
	switch {
	case interval >= 1e9:
		return "", 0
	case interval >= 1e6:
		return "ms", 3
	case interval >= 1e3:
		return "μs", 6
	}
	return "ns", 9
}

// clock is an interval's start as a row shows it: 10:41:46.700.
func clock(t time.Time, digits int) string {
	s := t.Format("15:04:05")
	if digits > 0 {
		s += fmt.Sprintf(".%0*d", digits, t.Nanosecond()/int(math.Pow10(9-digits)))
	}
	return s
}

// tseriesRange is the least and the greatest value set, widened by one on
// each side when they are equal, so that a flat series draws mid-graph.
func tseriesRange(ts TSeriesValue) (lo, hi int64) {
	found := false
	for _, p := range ts {
		if !p.Set {
			continue
		}
		if !found || p.Value < lo {
			lo = p.Value
		}
		if !found || p.Value > hi {
			hi = p.Value
		}
		found = true
	}
	if lo == hi {
		if lo > math.MinInt64 {
			lo--
		}
		if hi < math.MaxInt64 {
			hi++
		}
	}
	return lo, hi
}

// span is hi-lo, hi >= lo, as bpftrace scales it: in float32.
func span(lo, hi int64) float32 { return float32(uint64(hi) - uint64(lo)) }

// tseries draws one time series: the range's ends, the time column's
// header and the top border, one row per interval ("-" for an interval
// without a value), the bottom border and the ends again.
func (t *text) tseries(m *Map, v any) {
	ts, _ := v.(TSeriesValue)
	lo, hi := tseriesRange(ts)
	unit, digits := timeUnit(m.TS.Interval)
	header, width := "hh:mm:ss", 8
	if digits > 0 {
		header += "." + unit
		width += 1 + digits
	}
	ends := fmt.Sprintf("%-*d%*d\n", graphLabel, lo, graphWidth-graphLabel, hi)
	indent := strings.Repeat(" ", width)
	border := strings.Repeat("_", graphWidth-2)
	t.w.WriteString(indent + " " + ends)
	t.w.WriteString(header + strings.Repeat(" ", width+1-utf8.RuneCountInString(header)) + "|" + border + "|\n")
	zero := 0
	if lo < 0 && hi > 0 {
		zero = int(float32(graphWidth) * span(lo, 0) / span(lo, hi))
	}
	for _, p := range ts {
		line := []byte(strings.Repeat(" ", graphWidth))
		line[0], line[graphWidth-1] = '|', '|'
		if zero > 0 {
			line[zero] = '.'
		}
		t.w.WriteString(clock(p.Start, digits) + " ")
		if !p.Set {
			t.w.WriteString(string(line) + " -\n")
			continue
		}
		at := int(float32(graphWidth-1) * span(lo, p.Value) / span(lo, hi))
		line[min(max(at, 0), graphWidth-1)] = '*'
		t.w.WriteString(string(line) + " " + strconv.FormatInt(p.Value, 10) + "\n")
	}
	t.w.WriteString(indent + " v" + border + "v\n")
	t.w.WriteString(indent + " " + ends)
}

// tseriesJSON is a time series as a JSON array of its intervals: when
// each starts, in local time to the nanosecond, and its value, null for
// an interval without one. (bpftrace's own writer leaves the times
// unquoted and the elements without commas, which no JSON parser reads.)
func tseriesJSON(v any) string {
	ts, _ := v.(TSeriesValue)
	items := make([]string, len(ts))
	for i, p := range ts {
		value := "null"
		if p.Set {
			value = strconv.FormatInt(p.Value, 10)
		}
		start := p.Start.Format("2006-01-02T15:04:05") + fmt.Sprintf(".%09d", p.Start.Nanosecond())
		items[i] = `{"interval_start": ` + quote(start) + `, "value": ` + value + "}"
	}
	return "[" + strings.Join(items, ", ") + "]"
}
