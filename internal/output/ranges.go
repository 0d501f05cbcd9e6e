package output

import (
	"math"
	"strconv"
)

// Range is one histogram bucket as numbers: it counts the values from Low
// to High, both included.
type Range struct {
	Low, High int64
	Count     uint64
}

// Ranges returns the buckets of histogram value v (a HistValue) of map m,
// the same rows Print shows. A side without bound is math.MinInt64 or
// math.MaxInt64; a log2 bound beyond int64's range is math.MaxInt64.
func Ranges(m *Map, v any) []Range {
	rows := buckets(m, v)
	out := make([]Range, len(rows))
	for i, r := range rows {
		out[i] = Range{Low: bound(r.min, math.MinInt64), High: bound(r.max, math.MaxInt64), Count: r.count}
	}
	return out
}

// bound reads a bucket's bound as its JSON shows it; empty is unbounded.
func bound(s string, unbounded int64) int64 {
	if s == "" {
		return unbounded
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	return math.MaxInt64 // the top log2 buckets, [2^63, 2^64)
}
