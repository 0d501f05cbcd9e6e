package tracer

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
)

// interval is what the CPUs recorded in one interval of one key, combined.
type interval struct{ value, meta int64 }

// series is one key of a time series map.
type series struct {
	key       []any
	intervals map[uint64]*interval // by interval number
}

// timeSeries combines a tseries() map's elements, a slot of one key each
// with a share per CPU, into the series of every key: over the last
// TS.Intervals intervals of the whole map, from the first in which the key
// has a value. A key without a value in them is left out. A slot still
// holding an older interval (on a CPU that has not recorded since) falls
// before them.
func (ms *Maps) timeSeries(pm *plan.Map, elems []Element) []output.Entry {
	var all []*series
	var last uint64
	for _, g := range ms.group(pm, elems) {
		s := &series{key: g.key, intervals: map[uint64]*interval{}}
		all = append(all, s)
		for _, e := range g.elems {
			for _, v := range e.Values {
				n := binary.LittleEndian.Uint64(v[plan.TSeriesEpoch:])
				if n == 0 { // never written, or zeroed
					continue
				}
				value := int64(binary.LittleEndian.Uint64(v[plan.TSeriesValue:]))
				meta := int64(binary.LittleEndian.Uint64(v[plan.TSeriesMeta:]))
				last = max(last, n)
				if cur, ok := s.intervals[n]; ok {
					combineInterval(pm.TS.Agg, cur, value, meta)
				} else {
					s.intervals[n] = &interval{value, meta}
				}
			}
		}
	}
	first := uint64(1)
	if last > uint64(pm.TS.Intervals) {
		first = last - uint64(pm.TS.Intervals) + 1
	}
	var out []output.Entry
	for _, s := range all {
		var ts output.TSeriesValue
		for n := first; n <= last; n++ {
			iv, ok := s.intervals[n]
			if !ok && len(ts) == 0 {
				continue
			}
			p := output.TSeriesPoint{Start: intervalStart(n, pm.TS.Interval), Set: ok}
			if ok {
				p.Value = iv.value
				if pm.TS.Agg == "avg" && iv.meta != 0 {
					p.Value = iv.value / iv.meta
				}
			}
			ts = append(ts, p)
		}
		if len(ts) > 0 {
			out = append(out, output.Entry{Key: s.key, Value: ts})
		}
	}
	return out
}

// combineInterval adds what another CPU recorded in an interval to cur:
// the later value (meta is when it was recorded) without an aggregation,
// sums of values and of counts for avg, and so on.
func combineInterval(agg string, cur *interval, value, meta int64) {
	switch agg {
	case "":
		if meta > cur.meta {
			cur.value, cur.meta = value, meta
		}
	case "sum", "avg":
		cur.value += value
		cur.meta += meta
	case "min":
		cur.value = min(cur.value, value)
	case "max":
		cur.value = max(cur.value, value)
	}
}

// intervalStart is when interval n of length ns (nanoseconds) starts, in
// local time: intervals count on CLOCK_TAI, which runs ahead of the wall
// clock by the TAI offset the kernel was given (0 when none was).
func intervalStart(n uint64, ns int64) time.Time {
	return time.Unix(0, int64(n)*ns).Add(-taiOffset()).Local()
}

// taiOffset is how far CLOCK_TAI is ahead of CLOCK_REALTIME, measured
// once.
var taiOffset = sync.OnceValue(kernel.TAIRealtimeOffset)
