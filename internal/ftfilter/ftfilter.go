// Package ftfilter translates a bpftrace probe predicate into the kernel's
// own ftrace event filter (the text written to tracefs
// events/CAT/NAME/filter), so that when a script runs in the user-space
// engine on events read through tracefs, the events its predicate drops
// need not leave the kernel.
//
// The translation never drops an event the predicate keeps. Each part of
// the predicate translates to two filters: a weaker one, which keeps every
// event the part keeps (and perhaps more), and a stronger one, which keeps
// only events the part keeps (and perhaps fewer). A part that does not
// translate (a map, a variable, a call, pid, arithmetic) is "true" weakly
// and "false" strongly; && and || combine like with like, and ! swaps
// them. The weak filter of the whole predicate is the result; it is exact
// when every part translated exactly.
//
// A comparison of an integer field with a constant is worked out over the
// values the kernel's filter sees (the field at its width and sign in the
// record) as sets of intervals: ebtrace's side reads the field, perhaps
// narrower (a syscall's int argument in its 8-byte slot), extends it to 64
// bits and compares signed when either side is signed; the kernel's side
// compares the field at its own width. Values whose reading is not a
// simple function of the record's (high bits set in a syscall slot read as
// an int) are kept by the weak filter and make it inexact.
package ftfilter

import (
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// Translate returns an ftrace filter for the event of format f that keeps
// every event the predicate pred keeps, and whether it keeps exactly those
// (so that the predicate need not be evaluated again). When nothing of
// pred translates, or pred keeps no event at all, the filter is "" (keep
// everything) and exact is false; a pred that keeps every event gives ""
// and true. A nil pred keeps every event.
func Translate(pred syntax.Expr, f *kernel.Format) (filter string, exact bool) {
	if pred == nil {
		return "", true
	}
	t := &translator{format: f}
	b := t.truth(pred)
	switch {
	case b.weak.op == opTrue:
		return "", b.exact
	case b.weak.op == opFalse:
		return "", false
	}
	filter = b.weak.render()
	if len(filter) > maxFilter {
		return "", false
	}
	return filter, b.exact
}

// maxFilter bounds a filter's length below the page the kernel reads a
// filter file write into.
const maxFilter = 4000

// bounds is what a part of the predicate translates to.
type bounds struct {
	weak, strong *node // keep a superset, a subset of what the part keeps
	exact        bool  // weak and strong both keep exactly what the part keeps
}

// untranslated is the bounds of a part that does not translate.
var untranslated = bounds{weak: trueNode, strong: falseNode}

func exactly(n *node) bounds { return bounds{weak: n, strong: n, exact: true} }

type translator struct {
	format *kernel.Format
}

// truth translates e used as a condition: e != 0.
func (t *translator) truth(e syntax.Expr) bounds {
	switch e := e.(type) {
	case *syntax.BinaryExpr:
		switch e.Op {
		case "&&", "||":
			x, y := t.truth(e.X), t.truth(e.Y)
			combine := and
			if e.Op == "||" {
				combine = or
			}
			return bounds{weak: combine(x.weak, y.weak), strong: combine(x.strong, y.strong), exact: x.exact && y.exact}
		case "==", "!=", "<", "<=", ">", ">=":
			return t.compare(e.X, e.Op, e.Y)
		case "&":
			return t.bitTest(e)
		}
	case *syntax.UnaryExpr:
		if e.Op == "!" {
			x := t.truth(e.X)
			return bounds{weak: not(x.strong), strong: not(x.weak), exact: x.exact}
		}
	}
	if n, ok := t.numeric(e); ok {
		return n.compare("!=", constant{signed: true})
	}
	return untranslated
}

// flipped is the operator that keeps `c OP x` true when written `x OP c`.
var flipped = map[string]string{"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

// compare translates `x op y` where one side is a field and the other a
// constant.
func (t *translator) compare(x syntax.Expr, op string, y syntax.Expr) bounds {
	_, intLeft := constantOf(x)
	if _, strLeft := x.(*syntax.StringLit); intLeft || strLeft {
		x, y, op = y, x, flipped[op]
	}
	if lit, ok := y.(*syntax.StringLit); ok {
		s, ok := t.str(x)
		if !ok || op != "==" && op != "!=" {
			return untranslated
		}
		return s.compare(op, lit.Value)
	}
	c, ok := constantOf(y)
	if !ok {
		return untranslated
	}
	// (x & c) == 0 and != 0 are bit tests.
	if b, isAnd := x.(*syntax.BinaryExpr); isAnd && b.Op == "&" && c.bits == 0 && (op == "==" || op == "!=") {
		test := t.bitTest(b)
		if op == "==" {
			return bounds{weak: not(test.strong), strong: not(test.weak), exact: test.exact}
		}
		return test
	}
	n, ok := t.numeric(x)
	if !ok {
		return untranslated
	}
	return n.compare(op, c)
}

// bitTest translates `x & c` (or `c & x`) used as a condition.
func (t *translator) bitTest(e *syntax.BinaryExpr) bounds {
	x, y := e.X, e.Y
	if _, ok := constantOf(x); ok {
		x, y = y, x
	}
	c, ok := constantOf(y)
	if !ok {
		return untranslated
	}
	n, ok := t.numeric(x)
	if !ok {
		return untranslated
	}
	return n.bitTest(c.bits)
}

// constant is an integer constant of the script: its 64 bits and whether
// its type is signed (check types a literal up to 1<<63-1, and a negated
// one, as int64).
type constant struct {
	bits   uint64
	signed bool
}

// constantOf recognises an integer literal, possibly negated.
func constantOf(e syntax.Expr) (constant, bool) {
	switch e := e.(type) {
	case *syntax.IntLit:
		return constant{bits: e.Value, signed: e.Value <= 1<<63-1}, true
	case *syntax.UnaryExpr:
		if e.Op != "-" {
			return constant{}, false
		}
		c, ok := constantOf(e.X)
		return constant{bits: -c.bits, signed: true}, ok
	}
	return constant{}, false
}

// argField returns the event field that e names as args.NAME or
// args->NAME.
func (t *translator) argField(e syntax.Expr) (kernel.Field, bool) {
	fe, ok := e.(*syntax.FieldExpr)
	if !ok {
		return kernel.Field{}, false
	}
	if id, ok := fe.X.(*syntax.Ident); !ok || id.Name != "args" {
		return kernel.Field{}, false
	}
	return t.format.Field(fe.Name)
}

// generic reports whether the kernel's filter would take name as the
// generic field it means (COMM, CPU) rather than an event field of that
// name, which the kernel looks up first.
func (t *translator) generic(name string) bool {
	for _, f := range t.format.Fields {
		if f.Name == name {
			return false
		}
	}
	return true
}
