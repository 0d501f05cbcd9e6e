package syntax

import (
	"math"

	"github.com/ebtrace/ebtrace/internal/source"
)

// EnumDecl is `enum NAME { A, B = 5, C };` at the top of a script; NAME is
// optional. Each value is computed as C does: the one given, or one more
// than the one before it, 0 for the first.
type EnumDecl struct {
	Name   string
	Values []*EnumConst
	Sp     source.Span
}

// EnumConst is one named value of an EnumDecl.
type EnumConst struct {
	Name  string
	Value int64
	Sp    source.Span
}

func (d *EnumDecl) Span() source.Span  { return d.Sp }
func (c *EnumConst) Span() source.Span { return c.Sp }

// enumDecl parses `enum [NAME] { A [= N], ... }` at the enum keyword,
// leaving the scanner just after the closing '}' and an optional ';'.
func (p *parser) enumDecl() *EnumDecl {
	d := &EnumDecl{Sp: p.tok.sp}
	p.next()
	if p.tok.kind == tIdent {
		d.Name = p.tok.text
		p.next()
	}
	p.enter()
	defer p.leave()
	p.expect("{", " to open the enum's values")
	next := int64(0)
	for !p.is("}") {
		if p.tok.kind != tIdent {
			p.errorf(p.tok.sp, "expected the name of an enum value, found %s", describe(p.tok)).
				Hint("an enum lists names, each with an optional value: enum color { RED, GREEN = 5, BLUE };")
			p.bail()
		}
		c := &EnumConst{Name: p.tok.text, Sp: p.tok.sp}
		p.next()
		if p.is("=") {
			p.next()
			next = p.enumValue()
		}
		c.Value, c.Sp.End = next, p.prev
		d.Values = append(d.Values, c)
		next++
		if !p.is(",") {
			break
		}
		p.next()
	}
	if !p.is("}") {
		p.errorf(p.tok.sp, "expected ',' or '}' after an enum value, found %s", describe(p.tok))
		p.bail()
	}
	d.Sp.End = p.tok.sp.End
	p.s.skipSemicolon()
	return d
}

// enumValue parses an enum value's integer literal, which may be negated.
func (p *parser) enumValue() int64 {
	neg := p.is("-")
	if neg {
		p.next()
	}
	if p.tok.kind != tInt || p.tok.num > math.MaxInt64 {
		p.errorf(p.tok.sp, "expected an integer from %d to %d as the enum value, found %s", math.MinInt64+1, int64(math.MaxInt64), describe(p.tok)).
			Hint("a script's enum values are integer literals: enum e { A = 1, B = -2 };")
		p.bail()
	}
	v := int64(p.tok.num)
	p.next()
	if neg {
		return -v
	}
	return v
}
