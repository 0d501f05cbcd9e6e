package ebtrace

import (
	"time"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/tracer"
)

// MapKind is what a map holds: how the script writes it.
type MapKind string

// The kinds of map.
const (
	KindScalar  MapKind = "scalar"  // an integer assigned with = or ++
	KindString  MapKind = "string"  // a string, tuple or array assigned with =
	KindCount   MapKind = "count"   // count()
	KindSum     MapKind = "sum"     // sum()
	KindMin     MapKind = "min"     // min()
	KindMax     MapKind = "max"     // max()
	KindAvg     MapKind = "avg"     // avg()
	KindStats   MapKind = "stats"   // stats()
	KindHist    MapKind = "hist"    // hist(): a log2 histogram
	KindLHist   MapKind = "lhist"   // lhist(): a linear histogram
	KindTSeries MapKind = "tseries" // tseries(): a time series
)

// MapSnapshot is a map's contents at one moment.
type MapSnapshot struct {
	Name  string // with its @: "@calls", or "@" for the anonymous map
	Kind  MapKind
	Keyed bool // written with a subscript: @x[...]
	// KeyNames name each key part after what the script keys by, where
	// it does so everywhere: a builtin ("comm", "pid"), a field ("fd"
	// for args.fd), a symbol ("ksym"); "" for other expressions. Nil
	// when the script is not known (a Shell's maps).
	KeyNames []string
	// Counter reports a map that only ever grows while nothing clears
	// it: written only with count(), sum(), ++, or += of a positive
	// constant.
	Counter bool
	// Scratch reports working state rather than a result: the script
	// deletes the map's keys, or END clears it (as bpftrace's scripts do
	// so that a map is not printed at exit), such as the start times in
	// @start[tid].
	Scratch bool
	// Entries are in no particular order. A map that is not Keyed has at
	// most one entry, whose Key is nil.
	Entries []Entry
}

// Entry is one key of a map and its value.
//
// Key parts and plain values are int64 (every integer key, and signed
// values), uint64 (unsigned values), bool, string, Pointer, []any (a
// tuple or an array, whose elements are such values), Record, or []Frame
// (kstack, ustack). Symbols (ksym, usym) are their names.
//
// Value is, by the map's Kind: as above for KindScalar and KindString;
// int64 for KindCount, KindSum, KindMin, KindMax and KindAvg (the mean,
// truncated toward zero); Stats for KindStats; []Bucket for KindHist and
// KindLHist; []Interval for KindTSeries.
type Entry struct {
	Key   []any
	Value any
}

// Pointer is an address held as a value.
type Pointer uint64

// Record is a tuple with named fields: (a=1, b="x").
type Record struct {
	Names  []string
	Values []any
}

// Stats is a stats() value.
type Stats struct {
	Count, Sum, Avg int64 // Avg is truncated toward zero
}

// Bucket is one bucket of a histogram: Count values from Low to High, both
// included. The bucket of everything below a histogram's range has Low
// math.MinInt64; the bucket of everything above (lhist()'s last) has High
// math.MaxInt64. Buckets run from the first non-empty one to the last,
// empty ones between included.
type Bucket struct {
	Low, High int64
	Count     uint64
}

// Interval is one interval of a time series.
type Interval struct {
	Start time.Time
	Value int64
	Set   bool // whether any value was recorded in it
}

// Frame is one stack frame, leaf first in a stack.
type Frame struct {
	Address uint64
	Symbol  string // "" when no symbol covers Address
	Offset  uint64 // Address's distance from Symbol's start
	Module  string // a user frame's mapped file
}

// snapshot converts a map as the tracer reads it.
func snapshot(m *output.Map) MapSnapshot {
	s := MapSnapshot{Name: m.Name, Kind: MapKind(m.Kind.String()), Keyed: m.Keyed}
	for _, e := range m.Entries {
		var key []any
		for _, part := range e.Key {
			key = append(key, value(part))
		}
		s.Entries = append(s.Entries, Entry{Key: key, Value: entryValue(m, e.Value)})
	}
	return s
}

func entryValue(m *output.Map, v any) any {
	switch x := v.(type) {
	case output.HistValue:
		var out []Bucket
		for _, r := range output.Ranges(m, x) {
			out = append(out, Bucket(r))
		}
		return out
	case output.StatsValue:
		s := Stats{Count: x.Count, Sum: x.Total}
		if x.Count != 0 {
			s.Avg = x.Total / x.Count
		}
		return s
	case output.TSeriesValue:
		out := make([]Interval, len(x))
		for i, p := range x {
			out[i] = Interval(p)
		}
		return out
	}
	return value(v)
}

// value converts one key part or plain value.
func value(v any) any {
	switch x := v.(type) {
	case output.Pointer:
		return Pointer(x)
	case output.Tuple:
		return values(x)
	case output.Array:
		return values(x)
	case output.Record:
		return Record{Names: x.Names, Values: values(x.Values)}
	case []tracer.Frame:
		out := make([]Frame, len(x))
		for i, f := range x {
			out[i] = Frame{Address: f.Addr, Symbol: f.Name, Offset: f.Offset, Module: f.Module}
		}
		return out
	}
	return v
}

func values(xs []any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = value(x)
	}
	return out
}
