package syntax

import (
	"fmt"
	"strings"

	"github.com/ebtrace/ebtrace/internal/source"
)

// TypeName is a C type as a script spells it in a cast, sizeof, offsetof or
// a struct member: "struct task_struct", "uint8", "unsigned int", "pid_t",
// followed by Ptr levels of '*'.
type TypeName struct {
	Name string
	Ptr  int
	// Inline is a struct or union defined in place, `union { ... } u;`;
	// Name is then "struct" or "union".
	Inline *StructDecl
	// Array is set for an array cast's type, `(uint8[4])x`, of Len
	// elements; Len is 0 for `(uint8[])x`, whose length the value's size
	// gives.
	Array bool
	Len   int
	// Of is the expression of `typeof(expr)`, whose type this names;
	// Name is then "typeof".
	Of Expr
	Sp source.Span
}

func (t *TypeName) String() string {
	s := t.Name + strings.Repeat("*", t.Ptr)
	switch {
	case t.Array && t.Len > 0:
		s += fmt.Sprintf("[%d]", t.Len)
	case t.Array:
		s += "[]"
	}
	return s
}

// CastExpr is `(TYPE)X`.
type CastExpr struct {
	Type *TypeName
	X    Expr
	Sp   source.Span
}

// IndexExpr is `X[I]` on a pointer or an array.
type IndexExpr struct {
	X, Index Expr
	Sp       source.Span
}

// SizeofExpr is `sizeof(TYPE)` (Type set) or `sizeof(X)` (X set).
type SizeofExpr struct {
	Type *TypeName
	X    Expr
	Sp   source.Span
}

// OffsetofExpr is `offsetof(TYPE, FIELD[.FIELD...])`.
type OffsetofExpr struct {
	Type   *TypeName
	Fields []string
	Sp     source.Span
}

// StructDecl is `struct NAME { members };` or a union, at the top of a
// script or in an included header, or defined in place as a member's type
// (TypeName.Inline), where NAME is optional.
type StructDecl struct {
	Union   bool
	Name    string
	Members []*MemberDecl
	Sp      source.Span
}

// MemberDecl is one member of a StructDecl: `TYPE NAME[N]...` or a bitfield
// `TYPE NAME : BITS`. Its type may be a struct or union defined in place
// (Type.Inline). Without a Name such a definition is an anonymous member
// whose own members belong to the container, `union { int i; long l; };`,
// unless the definition has a name: `struct tag { ... };` inside a struct
// only defines struct tag, as in C, and adds no member.
type MemberDecl struct {
	Type  *TypeName
	Name  string
	Array []int // dimensions, outermost first
	Bits  int   // bitfield width; 0 for an ordinary member
	Sp    source.Span
}

// Include is `#include <PATH>` (System) or `#include "PATH"`.
type Include struct {
	Path   string
	System bool
	Sp     source.Span
}

func (e *CastExpr) Span() source.Span     { return e.Sp }
func (e *IndexExpr) Span() source.Span    { return e.Sp }
func (e *SizeofExpr) Span() source.Span   { return e.Sp }
func (e *OffsetofExpr) Span() source.Span { return e.Sp }
func (d *StructDecl) Span() source.Span   { return d.Sp }
func (d *Include) Span() source.Span      { return d.Sp }
func (m *MemberDecl) Span() source.Span   { return m.Sp }

func (*CastExpr) exprNode()     {}
func (*IndexExpr) exprNode()    {}
func (*SizeofExpr) exprNode()   {}
func (*OffsetofExpr) exprNode() {}

// recordKeyword reports whether s is struct, union or enum.
func recordKeyword(s string) bool { return s == "struct" || s == "union" || s == "enum" }

// cWords are the words that combine into C's integer type names.
var cWords = map[string]bool{"unsigned": true, "signed": true, "int": true, "char": true, "short": true, "long": true}

// scriptTypes are the type names that start a cast on their own.
var scriptTypes = map[string]bool{
	"int8": true, "int16": true, "int32": true, "int64": true,
	"uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"bool": true, "void": true,
	"u8": true, "u16": true, "u32": true, "u64": true, "s8": true, "s16": true, "s32": true, "s64": true,
}

// typeStart reports whether a token begins a type name beyond doubt.
func typeStart(t token) bool {
	return t.kind == tIdent && (recordKeyword(t.text) || cWords[t.text] || scriptTypes[t.text] || t.text == "const")
}

// typeName parses a type name at the current token. Where mayDefine is
// set, as for a member's type, it may define a struct or union in place,
// named or anonymous: `struct { int a; }`, `union tag { int a; long b; }`.
func (p *parser) typeName(mayDefine bool) *TypeName {
	t := &TypeName{Sp: p.tok.sp}
	for p.tok.kind == tIdent && (p.tok.text == "const" || p.tok.text == "volatile") {
		p.next()
	}
	if p.tok.kind != tIdent {
		p.errorf(p.tok.sp, "expected a type name, found %s", describe(p.tok)).
			Hint("for example struct task_struct *, uint32 or char")
		p.bail()
	}
	switch {
	case recordKeyword(p.tok.text):
		kw, tag := p.tok.text, ""
		p.next()
		t.Name = kw
		if p.tok.kind == tIdent {
			tag = p.tok.text
			t.Name = kw + " " + tag
			p.next()
		}
		if !p.is("{") || kw == "enum" {
			if t.Name == kw {
				p.errorf(p.tok.sp, "expected a name after '%s', found %s", kw, describe(p.tok))
				p.bail()
			}
			break
		}
		if !mayDefine {
			// Parse the definition anyway, to go on after it.
			p.errorf(p.tok.sp, "a %s can be defined only at the top of the script or as a member's type", kw).
				Hint("define it before the probes, %s name { ... }; and use it by name here", kw)
		}
		t.Inline = p.recordBody(&StructDecl{Union: kw == "union", Name: tag, Sp: t.Sp})
		p.next()
	case cWords[p.tok.text]:
		var words []string
		for p.tok.kind == tIdent && cWords[p.tok.text] {
			words = append(words, p.tok.text)
			p.next()
		}
		t.Name = strings.Join(words, " ")
	default:
		t.Name = p.tok.text
		p.next()
	}
	for p.is("*") {
		t.Ptr++
		p.next()
	}
	t.Sp.End = p.prev
	return t
}

// castAhead reports, at the token after '(', whether the parentheses hold a
// type: a word only a type begins with, or a name followed by '*'s and ')'
// (a typedef pointer), or a name in parentheses followed by an operand
// (`(pid_t)x`; `(x) y` is no expression), or a C typedef's name (ending in
// _t) followed by a unary operator (`(pid_t)-5`).
func (p *parser) castAhead() bool {
	if typeStart(p.tok) || p.typeofAhead() {
		return true
	}
	if p.tok.kind != tIdent {
		return false
	}
	peek := p.lookahead()
	t := peek.scan()
	stars := 0
	for t.kind == tPunct && t.text == "*" {
		stars++
		t = peek.scan()
	}
	if t.kind != tPunct || t.text != ")" {
		return false
	}
	if stars > 0 {
		return true
	}
	name := p.tok.text
	next := peek.scan()
	if strings.HasSuffix(name, "_t") && next.kind == tPunct && strings.Contains("-~!&*+", next.text) && len(next.text) == 1 {
		// A C typedef (pid_t) before a unary operator: no builtin or
		// variable is named so, so `(pid_t)-5` is a cast.
		return true
	}
	switch next.kind {
	case tIdent, tInt, tVar, tMap, tString:
		return true
	}
	return next.kind == tPunct && next.text == "("
}

// cast parses `TYPE) X` or `TYPE[N]) X` after the '(' of a cast at start.
func (p *parser) cast(start source.Pos) Expr {
	var t *TypeName
	if p.typeofAhead() {
		t = p.typeofName()
	} else {
		t = p.typeName(false)
	}
	if p.is("[") {
		p.next()
		t.Array = true
		if p.tok.kind == tInt {
			if p.tok.num == 0 || p.tok.num > 1<<16 {
				p.errorf(p.tok.sp, "expected an array length from 1 to %d, found %s", 1<<16, describe(p.tok)).
					Hint("or leave it out, (uint8[])x, to take it from the value's size")
				p.bail()
			}
			t.Len = int(p.tok.num)
			p.next()
		}
		p.expect("]", " to close the array length")
		t.Sp.End = p.prev
	}
	p.expect(")", " to close the cast")
	p.enter()
	defer p.leave()
	x := p.unary()
	return &CastExpr{Type: t, X: x, Sp: span(start, p.prev)}
}

// sizeof parses the parenthesised operand of sizeof at its '('.
func (p *parser) sizeof(start source.Pos) Expr {
	p.expect("(", " after sizeof")
	e := &SizeofExpr{}
	if p.castAhead() || p.tok.kind == tIdent && recordKeyword(p.tok.text) {
		e.Type = p.typeName(false)
	} else {
		e.X = p.expr()
	}
	p.expect(")", " to close sizeof(")
	e.Sp = span(start, p.prev)
	return e
}

// offsetof parses `(TYPE, FIELD.FIELD)` at its '('.
func (p *parser) offsetof(start source.Pos) Expr {
	p.expect("(", " after offsetof")
	e := &OffsetofExpr{Type: p.typeName(false)}
	p.expect(",", " after the type in offsetof")
	for {
		if p.tok.kind != tIdent {
			p.errorf(p.tok.sp, "expected a field name, found %s", describe(p.tok)).
				Hint("offsetof(struct task_struct, comm)")
			p.bail()
		}
		e.Fields = append(e.Fields, p.tok.text)
		p.next()
		if !p.is(".") {
			break
		}
		p.next()
	}
	p.expect(")", " to close offsetof(")
	e.Sp = span(start, p.prev)
	return e
}

// structDecl parses `struct NAME { TYPE NAME[N]; ... }` at the struct or
// union keyword, leaving the scanner just after the closing '}' and an
// optional ';'.
func (p *parser) structDecl() *StructDecl {
	d := &StructDecl{Union: p.tok.text == "union", Sp: p.tok.sp}
	p.next()
	if p.tok.kind != tIdent {
		p.errorf(p.tok.sp, "expected the struct's name, found %s", describe(p.tok))
		p.bail()
	}
	d.Name = p.tok.text
	p.next()
	p.recordBody(d)
	p.s.skipSemicolon()
	return d
}

// recordBody parses `{ members }` into d, ending at the '}'.
func (p *parser) recordBody(d *StructDecl) *StructDecl {
	p.enter()
	defer p.leave()
	p.expect("{", " to open the struct's members")
	for !p.is("}") {
		if p.tok.kind == tEOF {
			p.errorf(d.Sp, "unclosed struct %s: expected '}' before the end of the file", d.Name)
			p.bail()
		}
		d.Members = append(d.Members, p.members()...)
	}
	d.Sp.End = p.tok.sp.End
	return d
}

// members parses one member declaration, `TYPE a, *b[2], c:3;`, and its
// ';'.
func (p *parser) members() []*MemberDecl {
	base := p.typeName(true)
	stars := base.Ptr
	var out []*MemberDecl
	for {
		m := &MemberDecl{Type: &TypeName{Name: base.Name, Ptr: stars, Sp: base.Sp}, Sp: p.tok.sp}
		if len(out) == 0 {
			m.Sp = base.Sp
		}
		// A named definition is held by the first declarator only; the
		// others name its type, as any later use does.
		if len(out) == 0 || base.Inline != nil && base.Inline.Name == "" {
			m.Type.Inline = base.Inline
		}
		if base.Inline != nil && p.is(";") && len(out) == 0 {
			out = append(out, m) // an anonymous member, or a definition only
			break
		}
		if p.tok.kind != tIdent {
			p.errorf(p.tok.sp, "expected a member name, found %s", describe(p.tok)).
				Hint("a member is declared TYPE NAME; e.g. int pid; or char comm[16];")
			p.bail()
		}
		m.Name = p.tok.text
		p.next()
		p.declarator(m)
		m.Sp.End = p.prev
		out = append(out, m)
		if !p.is(",") {
			break
		}
		p.next()
		stars = 0
		for p.is("*") {
			stars++
			p.next()
		}
	}
	p.expect(";", " after the member")
	return out
}

// declarator parses a member's array lengths and bitfield width.
func (p *parser) declarator(m *MemberDecl) {
	for p.is("[") {
		p.next()
		if p.tok.kind != tInt || p.tok.num == 0 || p.tok.num > 1<<20 {
			p.errorf(p.tok.sp, "expected an array length from 1 to %d, found %s", 1<<20, describe(p.tok))
			p.bail()
		}
		m.Array = append(m.Array, int(p.tok.num))
		p.next()
		p.expect("]", " to close the array length")
	}
	if p.is(":") {
		p.next()
		if p.tok.kind != tInt || p.tok.num == 0 || p.tok.num > 64 {
			p.errorf(p.tok.sp, "expected a bitfield width from 1 to 64, found %s", describe(p.tok))
			p.bail()
		}
		m.Bits = int(p.tok.num)
		p.next()
	}
}

// word reports whether the raw text at the scanner's position is the word w.
func (s *scanner) word(w string) bool {
	return strings.HasPrefix(s.src[s.pos:], w) && !isIdentChar(s.at(len(w)))
}

// decl parses a top-level declaration at the raw position, a struct,
// union or enum definition, an #include, or the current dialect's macro
// or map declaration (macro.go), and reports whether there was one. After
// an error it skips past the declaration's end: its '}', or a map
// declaration's ';'.
func (p *parser) decl(prog *Program) (found bool) {
	end := "}"
	switch {
	case p.s.at(0) == '#':
		prog.Includes = append(prog.Includes, p.include())
		return true
	case p.s.word("let"):
		end = ";"
	case p.s.word("struct"), p.s.word("union"), p.s.word("enum"), p.s.word("macro"):
	default:
		return false
	}
	defer func() {
		if recoverBailout(recover()) {
			p.nest = 0
			for p.tok.kind != tEOF && !p.is(end) {
				p.next()
			}
		}
	}()
	p.next()
	switch p.tok.text {
	case "enum":
		prog.Enums = append(prog.Enums, p.enumDecl())
	case "macro":
		prog.Macros = append(prog.Macros, p.macroDecl())
	case "let":
		prog.MapDecls = append(prog.MapDecls, p.mapDecl())
	default:
		prog.Structs = append(prog.Structs, p.structDecl())
	}
	return true
}

// include parses `#include <path>` or `#include "path"` on one line.
func (p *parser) include() *Include {
	start := p.s.pos
	end := strings.IndexByte(p.s.src[start:], '\n')
	if end < 0 {
		end = len(p.s.src) - start
	}
	line := p.s.src[start : start+end]
	p.s.pos = start + end
	inc := &Include{Sp: span(source.Pos(start), source.Pos(start+len(strings.TrimRight(line, " \t\r"))))}
	rest, ok := strings.CutPrefix(line, "#include")
	rest = strings.TrimSpace(rest)
	switch {
	case ok && len(rest) > 2 && rest[0] == '<' && rest[len(rest)-1] == '>':
		inc.Path, inc.System = rest[1:len(rest)-1], true
	case ok && len(rest) > 2 && rest[0] == '"' && rest[len(rest)-1] == '"':
		inc.Path = rest[1 : len(rest)-1]
	default:
		p.errorf(inc.Sp, "expected #include <FILE> or #include \"FILE\"").
			Hint("the only preprocessor line a script may hold is #include")
		p.quiet = false
	}
	return inc
}

// ParseHeader extracts the struct and union definitions of a C header,
// skipping everything else: preprocessor lines, prototypes, typedefs and
// definitions too complex for a script's own struct syntax (function
// pointers, for one), which a script that needs them can take from kernel
// BTF instead.
func ParseHeader(f *source.File) []*StructDecl {
	p := &parser{file: f, diags: &source.Diagnostics{File: f}, quiet: true}
	p.s = scanner{src: f.Text}
	var out []*StructDecl
	for {
		p.s.skipSpace()
		switch {
		case p.s.pos >= len(p.s.src):
			return out
		case p.s.at(0) == '#':
			p.s.skipDirective()
		case p.s.word("struct"), p.s.word("union"):
			if d := p.headerStruct(); d != nil {
				out = append(out, d)
			}
		default:
			p.s.skipStatement()
		}
	}
}

// headerStruct parses one definition, or returns nil and skips the
// declaration it could not parse.
func (p *parser) headerStruct() (d *StructDecl) {
	start := p.s.pos
	defer func() {
		if recoverBailout(recover()) {
			d = nil
			p.nest = 0
			p.s.pos = start
			p.s.skipStatement()
		}
	}()
	p.next()
	return p.structDecl()
}

// skipDirective skips a preprocessor line and its continuations.
func (s *scanner) skipDirective() {
	for s.pos < len(s.src) && s.src[s.pos] != '\n' {
		if s.src[s.pos] == '\\' {
			s.pos++
		}
		s.pos++
	}
}

// skipStatement skips raw text up to and including the next ';' outside
// braces, or a balanced { ... } block and any ';' after it.
func (s *scanner) skipStatement() {
	saved := s.report
	s.report = nil
	defer func() { s.report = saved }()
	depth := 0
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			return
		}
		if s.at(0) == '#' {
			s.skipDirective()
			continue
		}
		t := s.scan()
		switch {
		case t.kind == tEOF:
			return
		case t.kind == tIllegal && s.pos == int(t.sp.Start):
			s.pos++
		case t.kind != tPunct:
		case t.text == "{":
			depth++
		case t.text == "}":
			depth--
			if depth <= 0 {
				s.skipSemicolon()
				return
			}
		case t.text == ";" && depth == 0:
			return
		}
	}
}

// typeofAhead reports whether `typeof(` starts at the current token.
func (p *parser) typeofAhead() bool {
	if p.tok.kind != tIdent || p.tok.text != "typeof" {
		return false
	}
	t := p.peek()
	return t.kind == tPunct && t.text == "("
}

// typeofName parses `typeof(expr)` as a type name.
func (p *parser) typeofName() *TypeName {
	start := p.tok.sp.Start
	p.next()
	p.next()
	t := &TypeName{Name: "typeof", Of: p.expr()}
	p.expect(")", " to close typeof(")
	t.Sp = span(start, p.prev)
	return t
}
