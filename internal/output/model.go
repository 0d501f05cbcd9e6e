// Package output owns how results look: printf text, maps and aggregations,
// histograms and lost-event reports, as text laid out like bpftrace's or as
// bpftrace's JSON lines. It knows nothing of BPF; the runtime hands it
// decoded Go values.
package output

import "time"

// Kind is what a map holds, which decides how it is printed.
type Kind int

const (
	Scalar Kind = iota // plain integer assigned with = or ++
	String             // string assigned with =
	Count
	Sum
	Min
	Max
	Avg
	Stats
	Hist    // log2 histogram
	LHist   // linear histogram
	TSeries // time series
)

var kindNames = [...]string{"scalar", "string", "count", "sum", "min", "max", "avg", "stats", "hist", "lhist", "tseries"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// Bucketed reports whether a map of kind k keeps one element per
// histogram bucket or time series interval: its kernel keys end in the
// bucket's index.
func (k Kind) Bucketed() bool { return k == Hist || k == LHist || k == TSeries }

// PerCPU reports whether a map of kind k holds one integer per CPU that a
// probe reads combined: count(), sum(), min(), max() and avg().
func (k Kind) PerCPU() bool { return k == Count || k == Sum || k == Min || k == Max || k == Avg }

// MarshalText names the kind in dumps such as -d plan.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Map is one map's contents at the moment of printing.
type Map struct {
	Name    string // with the @, e.g. "@calls" or "@"
	Kind    Kind
	Keyed   bool // declared with a subscript, even if it has one key
	Entries []Entry
	// Linear histogram parameters (LHist only).
	LMin, LMax, LStep int64
	// Bits splits each power of two of a log2 histogram (Hist) into 2^Bits
	// buckets: hist(x, Bits).
	Bits int
	TS   TSeriesSpec // TSeries only
	// CTypes marks keys decoded from a BPF object's C types (ebtrace
	// run): an unsigned 64-bit key shows unsigned, where bpftrace shows
	// every 64-bit integer key signed.
	CTypes bool
	// Div is print(@m, TOP, DIV)'s DIV where the writers apply it: log2
	// histograms show their counts, stats() their averages, divided by it
	// (when not 0). Limit divides other values itself.
	Div int64
}

// TSeriesSpec is what tseries() was given.
type TSeriesSpec struct {
	Interval  int64 // nanoseconds
	Intervals int64 // how many intervals are kept
	// Agg is how the values of one interval combine: "avg", "max", "min"
	// or "sum"; without one the last value recorded wins.
	Agg string
}

// Entry is one key and its value. Key parts are int64, uint64, bool,
// string, Tuple or Array. Value is int64, uint64, bool or Pointer
// (Scalar; int64 or uint64 for Count, Sum, Min, Max, Avg), string, Tuple
// or Array (String), StatsValue (Stats), HistValue (Hist, LHist) or
// TSeriesValue (TSeries). An Avg value is the mean itself, divided
// already and truncated toward zero. A map that is not Keyed has at most
// one entry, with a nil Key. Maps of BPF objects decoded through their
// BTF (package btfvalue) are Scalar maps whose key parts and values are
// any of int64, uint64, bool, string, float64, Pointer, Array or Record.
type Entry struct {
	Key   []any
	Value any
}

// Tuple is a tuple value: its elements are int64, uint64, bool, Pointer,
// string or Tuple, or, in values decoded through BTF, float64, Array or
// Record.
type Tuple []any

// Array is an array's value: its elements are int64 or uint64, or, in
// values decoded through BTF, any value a Tuple holds.
type Array []any

// Record is a record value, (color="green", size=2): Values are as a
// Tuple's elements, one per name.
type Record struct {
	Names  []string
	Values Tuple
}

// Pointer is an address held as a value: text prints it in hex, as
// bpftrace does (0x3a), JSON as a number.
type Pointer uint64

// StatsValue is a stats() aggregate.
type StatsValue struct {
	Count int64
	Total int64
}

// HistValue maps bucket index to count. Log2 buckets with Bits = 0: 0
// holds values < 0, 1 holds 0, and i >= 2 holds [2^(i-2), 2^(i-1)). With
// N = 2^Bits buckets per power of two, 0 holds values < 0, i from 1 to
// 2N holds the value i-1, and above 2N each power of two [2^p, 2^(p+1))
// is split into N buckets of 2^(p-Bits) values (see log2Bound). Linear
// buckets: 0 holds
// values < LMin, i >= 1 holds [LMin+(i-1)*LStep, LMin+i*LStep), and the
// last, 1+(LMax-LMin)/LStep, holds values >= LMax.
type HistValue map[int]uint64

// TSeriesValue is a time series: its intervals in time order, from the
// first in which the key has a value to the latest of the whole map, at
// most TSeries.Intervals of them.
type TSeriesValue []TSeriesPoint

// TSeriesPoint is one interval of a time series.
type TSeriesPoint struct {
	Start time.Time // the interval's start, in the time zone it prints in
	Value int64
	Set   bool // whether any value was recorded in the interval
}

// Limit returns m as print(@m, top, div) shows it, as bpftrace does: only
// its top entries with the greatest values (all when top is 0), and
// integer values divided by div (unchanged when div is 0), truncated
// toward zero. Log2 histograms show their counts and stats() their
// averages divided by div (see Map.Div); linear histograms keep their
// counts. Time series ignore both.
func Limit(m *Map, top, div int64) *Map {
	if top <= 0 && div == 0 || m.Kind == TSeries {
		return m
	}
	out := *m
	out.Entries = sorted(m)
	if top > 0 && int64(len(out.Entries)) > top {
		out.Entries = out.Entries[int64(len(out.Entries))-top:]
	}
	if m.Kind == Hist || m.Kind == Stats {
		out.Div = div
	} else if div != 0 {
		for i, e := range out.Entries {
			switch v := e.Value.(type) {
			case int64:
				out.Entries[i].Value = v / div
			case uint64:
				out.Entries[i].Value = v / uint64(div)
			}
		}
	}
	return &out
}
