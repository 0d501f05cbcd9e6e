package ftfilter

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/ebtrace/ebtrace/internal/cdecl"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// numField is an integer the kernel's filter can compare: an event field,
// or common_pid (tid) or CPU (cpu).
type numField struct {
	name   string // as the filter names it
	size   int    // the kernel compares at this width (bytes) ...
	signed bool   // ... and sign
	lo, hi *big.Int
	// views are the ways ebtrace may read the field: the low bits of its
	// value, sign- or zero-extended. More than one when the reading
	// depends on the kernel's BTF, which the filter must hold for all.
	views []view
}

type view struct {
	bits   int
	signed bool
}

// numeric resolves e to an integer field.
func (t *translator) numeric(e syntax.Expr) (numField, bool) {
	if id, ok := e.(*syntax.Ident); ok {
		// Thread ids and CPU numbers are never negative, whatever the
		// kernel's int says.
		n := numField{size: 4, signed: true, lo: big.NewInt(0), hi: big.NewInt(1<<31 - 1), views: []view{{32, false}}}
		switch {
		case id.Name == "tid":
			n.name = "common_pid"
			return n, true
		case id.Name == "cpu" && t.generic("CPU"):
			n.name = "CPU"
			return n, true
		}
		return numField{}, false
	}
	f, ok := t.argField(e)
	if !ok || f.DataLoc || f.Pointer || f.ArrayLen != 0 || f.Size != 1 && f.Size != 2 && f.Size != 4 && f.Size != 8 {
		return numField{}, false
	}
	n := numField{name: f.Name, size: f.Size, signed: f.Signed, views: []view{{8 * f.Size, f.Signed}}}
	n.lo, n.hi = limits(f.Size, f.Signed)
	if t.format.Category == "syscalls" {
		n.views = syscallViews(f)
	}
	return n, len(n.views) > 0
}

// syscallViews are the readings of a syscall event's argument. The event
// stores each argument in an 8-byte slot marked unsigned; ebtrace reads
// it as the type the argument is declared with (probe/tracepoint's
// declaredInt): a C integer name always, a kernel typedef when BTF has
// it, else the slot as the format gives it.
func syscallViews(f kernel.Field) []view {
	slot := view{8 * f.Size, f.Signed}
	name := strings.TrimPrefix(strings.TrimSpace(f.Type), "const ")
	// Without BTF the table knows C's integer names only, as ebtrace's
	// does whatever the BTF.
	table := cdecl.New(nil)
	if typ, err := table.Lookup(name); err == nil {
		t, ok := table.ScriptType(typ, types.Kernel)
		if !ok || t.Kind != types.Int || t.Size > f.Size {
			return []view{slot}
		}
		return []view{{8 * t.Size, t.Signed}}
	}
	if v, ok := typedefs[name]; ok && 8*f.Size >= v.bits {
		return []view{v, slot}
	}
	return nil
}

// typedefs are the kernel typedefs syscall arguments are declared with,
// as BTF resolves them on 64-bit Linux.
var typedefs = map[string]view{
	"size_t": {64, false}, "aio_context_t": {64, false}, "__u64": {64, false},
	"loff_t": {64, true}, "off_t": {64, true},
	"pid_t": {32, true}, "clockid_t": {32, true}, "timer_t": {32, true}, "mqd_t": {32, true},
	"key_t": {32, true}, "key_serial_t": {32, true}, "rwf_t": {32, true}, "__s32": {32, true},
	"uid_t": {32, false}, "gid_t": {32, false}, "qid_t": {32, false}, "__u32": {32, false},
	"umode_t": {16, false},
}

// limits returns the range of an integer of size bytes.
func limits(size int, signed bool) (lo, hi *big.Int) {
	bits := uint(8 * size)
	if signed {
		return new(big.Int).Neg(pow2(bits - 1)), dec(pow2(bits - 1))
	}
	return big.NewInt(0), dec(pow2(bits))
}

func pow2(n uint) *big.Int    { return new(big.Int).Lsh(big.NewInt(1), n) }
func dec(x *big.Int) *big.Int { return new(big.Int).Sub(x, big.NewInt(1)) }
func inc(x *big.Int) *big.Int { return new(big.Int).Add(x, big.NewInt(1)) }

// compare translates `field op c`.
func (n numField) compare(op string, c constant) bounds {
	var weak, strong set
	for i, v := range n.views {
		clean, dirty := n.solve(v, op, c)
		w := clean.union(dirty)
		if i == 0 {
			weak, strong = w, clean
			continue
		}
		weak, strong = weak.union(w), strong.intersect(clean)
	}
	domain := set{{n.lo, n.hi}}
	weak, strong = weak.intersect(domain), strong.intersect(domain)
	return bounds{weak: n.render(weak), strong: n.render(strong), exact: weak.equal(strong)}
}

// solve returns the field's values (the kernel's, in [lo, hi]) for which
// ebtrace's `field op c` holds when it reads the field as v (clean), and
// those where v's reading is no simple function of the value (dirty: high
// bits of a slot that a narrower type drops).
//
// The record holds raw bits u in [0, 2^size). The kernel's value k is u,
// less 2^size above the sign bit of a signed field. ebtrace reads v.bits
// low bits, extends them and compares as a 64-bit signed or unsigned
// number. Between the breakpoints below each of these steps is u plus a
// constant, so ebtrace's number is k + d on each piece and the condition
// an interval of k.
func (n numField) solve(v view, op string, c constant) (clean, dirty set) {
	signedCmp := v.signed || c.signed
	width := uint(8 * n.size)
	m := uint(v.bits)
	top := pow2(width)
	breaks := []*big.Int{big.NewInt(0), top, pow2(m - 1), pow2(m), pow2(63)}
	if m < width && v.signed {
		breaks = append(breaks, new(big.Int).Sub(top, pow2(m-1)))
	}
	if n.signed {
		breaks = append(breaks, pow2(width-1))
	}
	slices.SortFunc(breaks, func(a, b *big.Int) int { return a.Cmp(b) })
	breaks = slices.CompactFunc(breaks, func(a, b *big.Int) bool { return a.Cmp(b) == 0 })
	cv := new(big.Int).SetUint64(c.bits)
	if signedCmp && c.bits >= 1<<63 {
		cv.Sub(cv, pow2(64))
	}
	for i := 0; i+1 < len(breaks) && breaks[i+1].Cmp(top) <= 0; i++ {
		first, last := breaks[i], dec(breaks[i+1])
		piece := span{n.value(first), n.value(last)}
		sext := v.signed && first.Cmp(new(big.Int).Sub(top, pow2(m-1))) >= 0
		if m < width && first.Cmp(pow2(m)) >= 0 && !sext {
			dirty = append(dirty, piece)
			continue
		}
		d := new(big.Int).Sub(reading(first, v, signedCmp), piece.lo)
		clean = clean.union(solveSpan(piece, op, new(big.Int).Sub(cv, d)))
	}
	return clean, dirty
}

// value is the kernel's value of the raw bits u.
func (n numField) value(u *big.Int) *big.Int {
	width := uint(8 * n.size)
	if n.signed && u.Cmp(pow2(width-1)) >= 0 {
		return new(big.Int).Sub(u, pow2(width))
	}
	return new(big.Int).Set(u)
}

// reading is the number ebtrace compares for raw bits u read as v.
func reading(u *big.Int, v view, signedCmp bool) *big.Int {
	m := uint(v.bits)
	w := new(big.Int).And(u, dec(pow2(m)))
	if v.signed && w.Cmp(pow2(m-1)) >= 0 {
		w.Sub(w, pow2(m))
	}
	// The 64-bit register, then the comparison's reading of it.
	if w.Sign() < 0 {
		w.Add(w, pow2(64))
	}
	if signedCmp && w.Cmp(pow2(63)) >= 0 {
		w.Sub(w, pow2(64))
	}
	return w
}

// solveSpan returns the k in s for which k op t holds.
func solveSpan(s span, op string, t *big.Int) set {
	var r set
	switch op {
	case "==":
		r = set{{t, t}}
	case "!=":
		r = set{{s.lo, dec(t)}, {inc(t), s.hi}}
	case "<":
		r = set{{s.lo, dec(t)}}
	case "<=":
		r = set{{s.lo, t}}
	case ">":
		r = set{{inc(t), s.hi}}
	case ">=":
		r = set{{t, s.hi}}
	}
	return r.intersect(set{s})
}

// render writes a set of the field's values as filter predicates.
func (n numField) render(s set) *node {
	switch {
	case len(s) == 0:
		return falseNode
	case s.equal(set{{n.lo, n.hi}}):
		return trueNode
	}
	if hole := (set{{n.lo, n.hi}}).minus(s); len(hole) == 1 && hole[0].lo.Cmp(hole[0].hi) == 0 {
		return pred(fmt.Sprintf("%s != %s", n.name, hole[0].lo))
	}
	out := falseNode
	for _, sp := range s {
		var p *node
		switch {
		case sp.lo.Cmp(sp.hi) == 0:
			p = pred(fmt.Sprintf("%s == %s", n.name, sp.lo))
		case sp.lo.Cmp(n.lo) == 0:
			p = pred(fmt.Sprintf("%s <= %s", n.name, sp.hi))
		case sp.hi.Cmp(n.hi) == 0:
			p = pred(fmt.Sprintf("%s >= %s", n.name, sp.lo))
		default:
			p = and(pred(fmt.Sprintf("%s >= %s", n.name, sp.lo)), pred(fmt.Sprintf("%s <= %s", n.name, sp.hi)))
		}
		out = or(out, p)
	}
	return out
}

// bitTest translates `field & c` as a condition. It translates when
// ebtrace reads the field at the kernel's width only, and the constant has
// no bits above the field that sign extension would meet.
func (n numField) bitTest(c uint64) bounds {
	width := 8 * n.size
	for _, v := range n.views {
		if v.bits != width {
			return untranslated
		}
	}
	if n.name == "CPU" || n.name == "common_pid" {
		// The kernel's CPU & N never matches; tid is read narrower.
		return untranslated
	}
	if width < 64 {
		high := c >> width
		if high != 0 && n.signed {
			return untranslated
		}
		c &= 1<<width - 1
	}
	if c == 0 {
		return exactly(falseNode)
	}
	k := n.value(new(big.Int).SetUint64(c))
	return exactly(pred(fmt.Sprintf("%s & %s", n.name, k)))
}
