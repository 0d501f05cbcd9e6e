package ftfilter

import (
	"math/big"
	"slices"
)

// span is the integers lo..hi, both included.
type span struct{ lo, hi *big.Int }

// set is a union of spans, sorted, disjoint and not adjacent once built by
// union; spans with lo > hi are empty and dropped.
type set []span

// union returns s ∪ t.
func (s set) union(t set) set {
	all := slices.Concat(s, t)
	all = slices.DeleteFunc(all, func(sp span) bool { return sp.lo.Cmp(sp.hi) > 0 })
	slices.SortFunc(all, func(a, b span) int { return a.lo.Cmp(b.lo) })
	var out set
	for _, sp := range all {
		if n := len(out); n > 0 && sp.lo.Cmp(inc(out[n-1].hi)) <= 0 {
			if sp.hi.Cmp(out[n-1].hi) > 0 {
				out[n-1].hi = sp.hi
			}
			continue
		}
		out = append(out, sp)
	}
	return out
}

// intersect returns s ∩ t.
func (s set) intersect(t set) set {
	var out set
	for _, a := range s.union(nil) {
		for _, b := range t.union(nil) {
			lo, hi := a.lo, a.hi
			if b.lo.Cmp(lo) > 0 {
				lo = b.lo
			}
			if b.hi.Cmp(hi) < 0 {
				hi = b.hi
			}
			out = append(out, span{lo, hi})
		}
	}
	return out.union(nil)
}

// minus returns s \ t.
func (s set) minus(t set) set {
	out := s.union(nil)
	for _, b := range t.union(nil) {
		var next set
		for _, a := range out {
			next = append(next, span{a.lo, minBig(a.hi, dec(b.lo))}, span{maxBig(a.lo, inc(b.hi)), a.hi})
		}
		out = next.union(nil)
	}
	return out
}

// equal reports whether s and t hold the same integers.
func (s set) equal(t set) bool {
	a, b := s.union(nil), t.union(nil)
	return slices.EqualFunc(a, b, func(x, y span) bool { return x.lo.Cmp(y.lo) == 0 && x.hi.Cmp(y.hi) == 0 })
}

func minBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) < 0 {
		return a
	}
	return b
}

func maxBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) > 0 {
		return a
	}
	return b
}
