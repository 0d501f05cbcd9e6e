// Package output owns how results look: printf text, maps and aggregations,
// histograms and lost-event reports, as text laid out like bpftrace's or as
// bpftrace's JSON lines. It knows nothing of BPF; the runtime hands it
// decoded Go values.
package output

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
	Hist  // log2 histogram
	LHist // linear histogram
)

var kindNames = [...]string{"scalar", "string", "count", "sum", "min", "max", "avg", "stats", "hist", "lhist"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

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
}

// Entry is one key and its value. Key parts are int64, uint64, bool,
// string, Tuple or Array. Value is int64, uint64, bool or Pointer (Scalar; int64 or uint64 for
// Count, Sum, Min, Max, Avg),
// string, Tuple or Array (String), StatsValue (Stats), or HistValue (Hist, LHist). An Avg value
// is the mean itself, divided already and truncated toward zero. A map
// that is not Keyed has at most one entry, with a nil Key.
type Entry struct {
	Key   []any
	Value any
}

// Tuple is a tuple value: its elements are int64, uint64, bool, Pointer,
// string or Tuple.
type Tuple []any

// Array is an integer array's value: its elements, int64 or uint64.
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

// HistValue maps bucket index to count. Log2 buckets: 0 holds values < 0,
// 1 holds 0, and i >= 2 holds [2^(i-2), 2^(i-1)). Linear buckets: 0 holds
// values < LMin, i >= 1 holds [LMin+(i-1)*LStep, LMin+i*LStep), and the
// last, 1+(LMax-LMin)/LStep, holds values >= LMax.
type HistValue map[int]uint64

// Limit returns m as print(@m, top, div) shows it: only its top entries
// with the greatest values (all when top is 0), and integer values
// divided by div (unchanged when div is 0), truncated toward zero.
// Histograms and stats keep their values.
func Limit(m *Map, top, div int64) *Map {
	if top <= 0 && div == 0 {
		return m
	}
	out := *m
	out.Entries = sorted(m)
	if top > 0 && int64(len(out.Entries)) > top {
		out.Entries = out.Entries[int64(len(out.Entries))-top:]
	}
	if div != 0 {
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
