package output

import (
	"bufio"
	"cmp"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Writer receives everything a running script prints. Output is buffered;
// Flush pushes it out and reports the first write error.
type Writer interface {
	// Attached reports how many probes were attached.
	Attached(probes int)
	// Printf writes the already-rendered text of one printf call.
	Printf(text string)
	// Join writes the elements one join call read, already joined.
	Join(text string)
	// Print writes one map, as print(@x) does mid-run.
	Print(m *Map)
	// Heatmap writes one heatmap() call: m, a log2 histogram of
	// nanoseconds, as heatmap rows (HeatmapRow), in text shades when text
	// is set, else in ANSI greys.
	Heatmap(m *Map, text bool)
	// Value writes one value, as print() of a non-map does: an integer,
	// a string or a Tuple.
	Value(v any)
	// End writes the maps printed at exit, in name order.
	End(maps []*Map)
	// Lost reports events the kernel dropped.
	Lost(events uint64)
	// Message writes text a function made in user space: time(), cat(),
	// system(); kind is one of the *Message constants.
	Message(kind, text string)
	// HelperError reports a failed helper call; it returns false when the
	// report belongs on the warning stream instead.
	HelperError(h HelperError) bool
	// TestResult reports one test probe's result (--test).
	TestResult(r TestResult)
	// Benchmarks reports the bench probes' times (--bench), sorted by
	// name.
	Benchmarks(rs []Benchmark)
	Flush() error
}

// NewText returns a Writer laying results out as bpftrace's text output.
func NewText(w io.Writer) Writer { return &text{w: bufio.NewWriter(w)} }

// NewLegacyText returns a Writer laying results out as bpftrace 0.17's
// text output did, where the current release differs: stats() as
// "count 2, average 3, total 6", a histogram's "@x: " header with a
// trailing space.
func NewLegacyText(w io.Writer) Writer { return &text{w: bufio.NewWriter(w), legacy: true} }

// NewJSON returns a Writer emitting bpftrace's JSON lines (-f json).
func NewJSON(w io.Writer) Writer { return &jsonw{w: bufio.NewWriter(w)} }

// byName returns maps in the order bpftrace prints them at exit.
func byName(maps []*Map) []*Map {
	sorted := slices.Clone(maps)
	slices.SortStableFunc(sorted, func(a, b *Map) int { return cmp.Compare(a.Name, b.Name) })
	return sorted
}

// shown returns the entries Print writes: m's entries sorted, or for an
// unkeyed count() that holds none (it never ran, or was cleared) a single
// zero, since bpftrace prints "@x: 0" for such a count but nothing for an
// empty map of any other kind.
func shown(m *Map) []Entry {
	if m.Kind == Count && !m.Keyed && len(m.Entries) == 0 {
		return []Entry{{Value: int64(0)}}
	}
	return sorted(m)
}

// sorted returns m's entries in bpftrace's order: string values by key,
// histograms by their total count, stats by average, time series by key
// (every series of a map ends at its latest interval), anything else by
// value; all ascending. bpftrace leaves ties in the kernel's hash order,
// which is random, so ties here go by key to keep output reproducible.
func sorted(m *Map) []Entry {
	entries := slices.Clone(m.Entries)
	var byValue func(a, b Entry) int
	switch m.Kind {
	case String, TSeries:
	case Hist, LHist:
		byValue = func(a, b Entry) int { return cmp.Compare(histTotal(a.Value), histTotal(b.Value)) }
	case Stats:
		byValue = func(a, b Entry) int { return cmp.Compare(average(a.Value, 0), average(b.Value, 0)) }
	default:
		byValue = func(a, b Entry) int { return compareNumbers(a.Value, b.Value) }
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		if byValue != nil {
			if c := byValue(a, b); c != 0 {
				return c
			}
		}
		return compareKeys(a.Key, b.Key)
	})
	return entries
}

func histTotal(v any) uint64 {
	var total uint64
	h, _ := v.(HistValue)
	for _, n := range h {
		total += n
	}
	return total
}

// average is a stats() value's mean, truncated toward zero as C divides,
// then divided by div when it is not 0.
func average(v any, div int64) int64 {
	s, _ := v.(StatsValue)
	if s.Count == 0 {
		return 0
	}
	if div != 0 {
		return s.Total / s.Count / div
	}
	return s.Total / s.Count
}

// compareNumbers orders int64, uint64 and Pointer values by their numeric
// value.
func compareNumbers(a, b any) int {
	if x, ok := a.(bool); ok {
		a = uint64(boolInt(x))
	}
	if y, ok := b.(bool); ok {
		b = uint64(boolInt(y))
	}
	if p, ok := a.(Pointer); ok {
		a = uint64(p)
	}
	if p, ok := b.(Pointer); ok {
		b = uint64(p)
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, y)
		case uint64:
			if x < 0 {
				return -1
			}
			return cmp.Compare(uint64(x), y)
		}
	case uint64:
		switch y := b.(type) {
		case uint64:
			return cmp.Compare(x, y)
		case int64:
			return -compareNumbers(y, x)
		}
	}
	return 0
}

// compareKeys orders keys part by part: integers by their 64 bits taken as
// unsigned (so -1 sorts last, as in bpftrace), strings bytewise, tuples,
// arrays and records element by element.
func compareKeys(a, b []any) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := comparePart(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func comparePart(a, b any) int {
	switch x := a.(type) {
	case Tuple:
		if y, ok := b.(Tuple); ok {
			return compareKeys(x, y)
		}
	case Array:
		if y, ok := b.(Array); ok {
			return compareKeys(x, y)
		}
	case Record:
		if y, ok := b.(Record); ok {
			return compareKeys(x.Values, y.Values)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	}
	as, aIsString := a.(string)
	bs, bIsString := b.(string)
	switch {
	case aIsString && bIsString:
		return cmp.Compare(as, bs)
	case aIsString != bIsString:
		return cmp.Compare(boolInt(aIsString), boolInt(bIsString))
	}
	return cmp.Compare(keyBits(a), keyBits(b))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func keyBits(part any) uint64 {
	switch x := part.(type) {
	case int64:
		return uint64(x)
	case uint64:
		return x
	case bool:
		return uint64(boolInt(x))
	case Pointer:
		return uint64(x)
	}
	return 0
}

// keyPart is one key part of map m as bpftrace shows it. bpftrace reads
// every 64-bit integer key as signed, so a uint64 key above MaxInt64 shows
// as negative, unless m's keys have C types (Map.CTypes).
func keyPart(m *Map, part any) string {
	switch x := part.(type) {
	case string:
		return x
	case Tuple, Array, bool, Record, Pointer, float64:
		return textValue(x)
	case uint64:
		if m.CTypes {
			return strconv.FormatUint(x, 10)
		}
	}
	return strconv.FormatInt(int64(keyBits(part)), 10)
}

// textValue shows a value as bpftrace's text output does: a tuple as
// (1, abc), an array as [1,2,3], strings bare (but quoted inside arrays
// and records).
func textValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case Tuple:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = textValue(e)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case Array:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = quotedValue(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case Pointer:
		return "0x" + strconv.FormatUint(uint64(x), 16)
	case bool:
		return strconv.FormatBool(x)
	case Record:
		parts := make([]string, len(x.Names))
		for i, name := range x.Names {
			parts[i] = "." + name + " = " + quotedValue(x.Values[i])
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	return number(v)
}

// quotedValue is textValue with strings quoted, as array and record
// elements show.
func quotedValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return textValue(v)
}

// number formats a numeric value, uint64 as unsigned, float64 in the
// shortest form that reads back exactly.
func number(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case Pointer:
		return strconv.FormatUint(uint64(x), 10)
	}
	return "0"
}

// bucket is one histogram row: its text label, its JSON bounds (empty
// when unbounded on that side) and its count.
type bucket struct {
	label    string
	min, max string
	count    uint64
}

// buckets returns the rows bpftrace shows for one histogram: from the first
// non-empty bucket to the last, empty ones between included, the counts of
// a log2 histogram divided by m.Div. An all-zero histogram has no rows.
func buckets(m *Map, v any) []bucket {
	h, _ := v.(HistValue)
	last := log2Buckets(m.Bits) - 1
	if m.Kind == LHist {
		last = lhistBuckets(m) - 1
	}
	first, end := -1, -1
	for i, n := range h {
		if n == 0 || i < 0 || i > last {
			continue
		}
		if first < 0 || i < first {
			first = i
		}
		end = max(end, i)
	}
	if first < 0 {
		return nil
	}
	rows := make([]bucket, 0, end-first+1)
	for i := first; i <= end; i++ {
		var b bucket
		if m.Kind == LHist {
			b = lhistBucket(m, i, last)
		} else {
			b = log2Bucket(i, m.Bits)
		}
		b.count = h[i]
		if m.Div > 0 && m.Kind == Hist {
			b.count /= uint64(m.Div)
		}
		rows = append(rows, b)
	}
	return rows
}

// log2Buckets counts the buckets of hist(x, bits): below 0, then
// 2^bits for each of 0 and 1 and for each power of two up to [2^63, 2^64).
func log2Buckets(bits int) int { return (65-bits)<<bits + 1 }

// log2Bucket is row i of a log2 histogram with 2^bits buckets per power
// of two. The first 2*2^bits rows after the negative one hold one value
// each; a wider one is labelled with the bounds log2Bound gives.
func log2Bucket(i, bits int) bucket {
	switch {
	case i == 0:
		return bucket{label: "(..., 0)", max: "-1"}
	case i <= 2<<bits:
		v := strconv.Itoa(i - 1)
		return bucket{label: "[" + v + "]", min: v, max: v}
	}
	lo, loValue := log2Bound(i-1, bits)
	hi, hiValue := log2Bound(i, bits)
	return bucket{
		label: "[" + lo + ", " + hi + ")",
		min:   strconv.FormatUint(loValue, 10),
		max:   strconv.FormatUint(hiValue-1, 10),
	}
}

// log2Bound is where log2 bucket i ends (and i+1 starts), as its label
// and its value, which wraps to 0 at 2^64. Past the buckets of one value
// the bound is a step (2^bits to 2*2^bits-1) times a power of two, shown
// as bpftrace shows it: the power's largest factor of 1024 becomes a
// suffix, the rest multiplies the step. With bits = 2 the bounds run
// ... 768, 896, 1024, 1280, ... 3584, 4K, 5K, 6K, 7K, 8K, 10K.
func log2Bound(i, bits int) (string, uint64) {
	if i <= 2<<bits {
		return strconv.Itoa(i), uint64(i)
	}
	n := 1 << bits
	power := i>>bits - 1
	step := uint64(n + i&(n-1))
	return strconv.FormatUint(step<<(power%10), 10) + suffixes[power/10], step << power
}

var suffixes = []string{"", "K", "M", "G", "T", "P", "E"}

// lhistBuckets counts lhist()'s buckets: below LMin, one per step, and
// LMax or more.
func lhistBuckets(m *Map) int {
	if m.LStep <= 0 || m.LMax < m.LMin {
		return 2
	}
	return int((m.LMax-m.LMin)/m.LStep) + 2
}

func lhistBucket(m *Map, i, last int) bucket {
	switch i {
	case 0:
		return bucket{label: "(..., " + sizeLabel(m.LMin) + ")", max: strconv.FormatInt(m.LMin-1, 10)}
	case last:
		return bucket{label: "[" + sizeLabel(m.LMax) + ", ...)", min: strconv.FormatInt(m.LMax, 10)}
	}
	lo := m.LMin + int64(i-1)*m.LStep
	hi := lo + m.LStep
	return bucket{
		label: "[" + sizeLabel(lo) + ", " + sizeLabel(hi) + ")",
		min:   strconv.FormatInt(lo, 10),
		max:   strconv.FormatInt(hi-1, 10),
	}
}

// sizeLabel shows n with the largest binary unit dividing it exactly:
// 2048 is 2K, 1024000 is 1000K, 1536 stays 1536.
func sizeLabel(n int64) string {
	if n == 0 {
		return "0"
	}
	sign, u := "", uint64(n)
	if n < 0 {
		sign, u = "-", -u
	}
	k := 0
	for k < len(suffixes)-1 && u%1024 == 0 {
		u /= 1024
		k++
	}
	return sign + strconv.FormatUint(u, 10) + suffixes[k]
}

// barWidth is the width of a histogram row's bar; the fullest bucket
// fills it.
const barWidth = 52

// barLength scales count against the fullest bucket, rounding down.
func barLength(count, fullest uint64) int {
	if fullest == 0 {
		return 0
	}
	hi, lo := bits.Mul64(count, barWidth)
	q, _ := bits.Div64(hi, lo, fullest)
	return int(q)
}
