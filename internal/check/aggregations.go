package check

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// maxHistBits bounds hist(x, BITS): 2^BITS buckets per power of two.
const maxHistBits = 5

// maxIntervals bounds tseries()'s number of intervals, each a map element
// per key, as lhist()'s buckets are bounded.
const maxIntervals = 1000

// tseriesAggs are the names tseries() combines an interval's values by.
var tseriesAggs = []string{"avg", "max", "min", "sum"}

// histBits checks hist(x, BITS): BITS is an integer literal from 0 to 5,
// the same in every assignment of the map.
func (c *checker) histBits(call *syntax.CallExpr, m *Map) {
	bits := 0
	if len(call.Args) == 2 {
		lit, ok := call.Args[1].(*syntax.IntLit)
		if !ok || lit.Value > maxHistBits {
			c.errorf(call.Args[1].Span(), "arguments", "hist()'s bits must be an integer literal from 0 to %d", maxHistBits).
				Hint("hist(x, BITS) splits each power of two into 2^BITS buckets")
			return
		}
		bits = int(lit.Value)
	}
	if !m.shaped {
		m.Bits, m.shaped = bits, true
	} else if m.Bits != bits {
		c.errorf(call.Sp, "arguments", "%s is a hist() with %d bits elsewhere; it cannot also have %d", m.DisplayName(), m.Bits, bits)
	}
}

// tseries checks tseries(VALUE, INTERVAL, INTERVALS[, AGG]): INTERVAL
// (nanoseconds, as a duration such as 100ms reads) and INTERVALS are
// integer literals, AGG one of tseriesAggs; all the same in every
// assignment of the map.
func (c *checker) tseries(call *syntax.CallExpr, m *Map) {
	if !c.learning {
		c.unstable(call.FunSp, "unstable_tseries")
	}
	interval, ok := call.Args[1].(*syntax.IntLit)
	if !ok || interval.Value == 0 || interval.Value > 1<<63-1 {
		c.errorf(call.Args[1].Span(), "arguments", "tseries()'s interval must be an integer literal from 1 ns up").
			Hint("write a duration: 100ms, 1s, 5m")
		return
	}
	count, ok := call.Args[2].(*syntax.IntLit)
	if !ok || count.Value == 0 || count.Value > maxIntervals {
		c.errorf(call.Args[2].Span(), "arguments", "tseries() keeps 1 to %d intervals, given as an integer literal", maxIntervals)
		return
	}
	ts := output.TSeriesSpec{Interval: int64(interval.Value), Intervals: int64(count.Value)}
	if len(call.Args) == 4 {
		lit, ok := call.Args[3].(*syntax.StringLit)
		switch {
		case !ok:
			c.errorf(call.Args[3].Span(), "arguments", "tseries()'s aggregation must be a string literal").
				Hint("one of %q", tseriesAggs)
			return
		case !slices.Contains(tseriesAggs, lit.Value):
			d := c.errorf(lit.Sp, "arguments", "tseries() has no aggregation %q", lit.Value).
				Hint("aggregations: %s; without one, each interval keeps the last value", strings.Join(tseriesAggs, ", "))
			if close := source.Closest(lit.Value, tseriesAggs, 2); len(close) > 0 {
				d.Hint("did you mean %q?", close[0])
			}
			return
		}
		ts.Agg = lit.Value
	}
	if !m.shaped {
		m.TS, m.shaped = ts, true
	} else if m.TS != ts {
		c.errorf(call.Sp, "arguments", "%s is a tseries() with %s elsewhere", m.DisplayName(), describeTSeries(m.TS))
	}
}

// describeTSeries says what a tseries() was given, for messages.
func describeTSeries(ts output.TSeriesSpec) string {
	s := fmt.Sprintf("an interval of %d ns, %d intervals", ts.Interval, ts.Intervals)
	if ts.Agg != "" {
		return s + " and aggregation " + ts.Agg
	}
	return s + " and no aggregation"
}

// bucketed names a map whose keys span several elements, and what those
// elements are: "histogram @h", "buckets".
func bucketed(m *Map) (what, parts string) {
	if m.Kind == output.TSeries {
		return "time series " + m.DisplayName(), "intervals"
	}
	return "histogram " + m.DisplayName(), "buckets"
}

// lhistRange checks lhist()'s min, max and step, integer literals, and
// keeps them, the same for every assignment.
func (c *checker) lhistRange(call *syntax.CallExpr, m *Map) {
	var v [3]int64
	for i, a := range call.Args[1:] {
		lit, ok := a.(*syntax.IntLit)
		if !ok {
			c.errorf(a.Span(), "arguments", "lhist() min, max and step must be integer literals")
			return
		}
		if lit.Value > math.MaxInt64 {
			c.errorf(a.Span(), "arguments", "lhist() min, max and step must be at most %d", int64(math.MaxInt64))
			return
		}
		v[i] = int64(lit.Value)
	}
	if v[2] <= 0 || v[1] <= v[0] {
		c.errorf(call.Sp, "arguments", "lhist() needs min < max and step > 0").
			Hint("for example lhist(x, 0, 100, 10)")
		return
	}
	if (v[1]-v[0])/v[2] > 1000 {
		c.errorf(call.Sp, "arguments", "lhist() would have %d buckets; at most 1000 are allowed", (v[1]-v[0])/v[2])
		return
	}
	if m.LStep == 0 {
		m.LMin, m.LMax, m.LStep = v[0], v[1], v[2]
	} else if m.LMin != v[0] || m.LMax != v[1] || m.LStep != v[2] {
		c.errorf(call.Sp, "arguments", "%s is an lhist with other min, max or step elsewhere", m.DisplayName())
	}
}
