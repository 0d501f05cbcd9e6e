package syntax

import (
	"slices"

	"github.com/ebtrace/ebtrace/internal/source"
)

// WhileStmt is `while (cond) { ... }`.
type WhileStmt struct {
	Cond Expr
	Body *Block
	Sp   source.Span
}

// UnrollStmt is `unroll(count) { ... }`: the body repeated count times.
type UnrollStmt struct {
	Count Expr
	Body  *Block
	Sp    source.Span
}

// ForRangeStmt is `for ($var : start..end) { ... }`; end is exclusive.
type ForRangeStmt struct {
	Var        *VarExpr
	Start, End Expr
	Body       *Block
	Sp         source.Span
}

// ForMapStmt is `for ($var : @map) { ... }`: $var.0 is each key and
// $var.1 its value.
type ForMapStmt struct {
	Var  *VarExpr
	Map  *MapExpr
	Body *Block
	Sp   source.Span
}

// JumpStmt is `break`, `continue` or `return`, which may return a
// value: `return 1`.
type JumpStmt struct {
	Keyword string
	Value   Expr // nil but for `return EXPR`
	Sp      source.Span
}

// TupleExpr is `(a, b, ...)`; a one-element tuple is written `(a,)`.
type TupleExpr struct {
	Elems []Expr
	// Names are a record's field names, (color="green", size=2); nil
	// for a tuple.
	Names []string
	Sp    source.Span
}

// TupleIndex is `x.N`, the Nth element of a tuple.
type TupleIndex struct {
	X       Expr
	Index   int
	IndexSp source.Span
}

func (s *WhileStmt) Span() source.Span    { return s.Sp }
func (s *UnrollStmt) Span() source.Span   { return s.Sp }
func (s *ForRangeStmt) Span() source.Span { return s.Sp }
func (s *ForMapStmt) Span() source.Span   { return s.Sp }
func (s *JumpStmt) Span() source.Span {
	if s.Value != nil {
		return source.Join(s.Sp, s.Value.Span())
	}
	return s.Sp
}
func (e *TupleExpr) Span() source.Span  { return e.Sp }
func (e *TupleIndex) Span() source.Span { return source.Join(e.X.Span(), e.IndexSp) }

func (*WhileStmt) stmtNode()    {}
func (*UnrollStmt) stmtNode()   {}
func (*ForRangeStmt) stmtNode() {}
func (*ForMapStmt) stmtNode()   {}
func (*JumpStmt) stmtNode()     {}

func (*TupleExpr) exprNode()  {}
func (*TupleIndex) exprNode() {}

// maxTupleIndex bounds x.N; no tuple is longer.
const maxTupleIndex = 1 << 16

// loopStmt parses while, unroll and for statements at their keyword.
func (p *parser) loopStmt() Stmt {
	p.enter()
	defer p.leave()
	kw := p.tok
	p.next()
	p.expect("(", " after '"+kw.text+"'")
	switch kw.text {
	case "while":
		cond := p.expr()
		p.expect(")", " after the while condition")
		body := p.loopBody("the while condition")
		return &WhileStmt{Cond: cond, Body: body, Sp: span(kw.sp.Start, body.Sp.End)}
	case "unroll":
		count := p.expr()
		p.expect(")", " after the unroll count")
		body := p.loopBody("unroll(N)")
		return &UnrollStmt{Count: count, Body: body, Sp: span(kw.sp.Start, body.Sp.End)}
	}
	if p.tok.kind != tVar {
		p.errorf(p.tok.sp, "expected a variable after 'for (', found %s", describe(p.tok)).
			Hint("write for ($i : 0..10) { ... } or for ($kv : @map) { ... }")
		p.bail()
	}
	v := &VarExpr{Name: p.tok.str, Sp: p.tok.sp}
	p.next()
	p.expect(":", " after the loop variable")
	if p.tok.kind == tMap {
		if next := p.peek(); next.kind == tPunct && next.text == ")" {
			m := &MapExpr{Name: p.tok.str, Sp: p.tok.sp}
			p.next()
			p.next()
			body := p.loopBody("for (...)")
			return &ForMapStmt{Var: v, Map: m, Body: body, Sp: span(kw.sp.Start, body.Sp.End)}
		}
	}
	start := p.expr()
	if !p.is("..") {
		p.errorf(p.tok.sp, "expected '..' in the range of for, found %s", describe(p.tok)).
			Hint("a range is START..END, END excluded; to iterate a map write for ($kv : @map)")
		p.bail()
	}
	p.next()
	end := p.expr()
	p.expect(")", " after the range")
	body := p.loopBody("for (...)")
	return &ForRangeStmt{Var: v, Start: start, End: end, Body: body, Sp: span(kw.sp.Start, body.Sp.End)}
}

// loopBody parses the block a loop header requires after what.
func (p *parser) loopBody(what string) *Block {
	if !p.is("{") {
		p.errorf(p.tok.sp, "expected '{' after %s, found %s", what, describe(p.tok)).
			Hint("the body of a loop must be a { block }")
		p.bail()
	}
	return p.block(true)
}

// parenOrTuple parses what follows '(' in an expression: a cast, a parenthesised
// expression or a tuple, which has a ',' after its first element.
func (p *parser) parenOrTuple(open token) (Expr, source.Span) {
	p.next()
	if p.castAhead() {
		x := p.cast(open.sp.Start)
		return x, x.Span()
	}
	if p.recordAhead() {
		return p.record(open)
	}
	x := p.expr()
	if !p.is(",") {
		p.expect(")", " to close '('")
		return x, span(open.sp.Start, p.prev)
	}
	p.next()
	t := &TupleExpr{Elems: []Expr{x}}
	if !p.is(")") {
		t.Elems = append(t.Elems, p.list(open.sp, ")", "a tuple")...)
	} else {
		p.next()
	}
	t.Sp = span(open.sp.Start, p.prev)
	return t, t.Sp
}

// tupleIndex parses the N of `x.N` at the current integer token.
func (p *parser) tupleIndex(x Expr) Expr {
	if p.tok.num >= maxTupleIndex {
		p.errorf(p.tok.sp, "tuple index %s is too large", p.tok.text)
		p.bail()
	}
	return &TupleIndex{X: x, Index: int(p.tok.num), IndexSp: p.tok.sp}
}

// recordAhead reports whether a record starts at the current token: a
// name, then '='.
func (p *parser) recordAhead() bool {
	if p.tok.kind != tIdent {
		return false
	}
	t := p.peek()
	return t.kind == tPunct && t.text == "="
}

// record parses `name=value, ...)` after the '(' of a record.
func (p *parser) record(open token) (Expr, source.Span) {
	r := &TupleExpr{}
	for {
		if p.tok.kind != tIdent {
			p.errorf(p.tok.sp, "expected a field name in the record, found %s", describe(p.tok)).
				Hint("a record is written (name=value, other=value)")
			p.bail()
		}
		name := p.tok
		if slices.Contains(r.Names, name.text) {
			p.errorf(name.sp, "the record has two fields %s", name.text)
		}
		r.Names = append(r.Names, name.text)
		p.next()
		p.expect("=", " after the field name "+name.text)
		r.Elems = append(r.Elems, p.expr())
		if p.is(",") {
			p.next()
			continue
		}
		p.expect(")", " to close the record")
		r.Sp = span(open.sp.Start, p.prev)
		return r, r.Sp
	}
}
