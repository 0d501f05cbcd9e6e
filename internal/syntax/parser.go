package syntax

import (
	"fmt"
	"unicode/utf8"

	"github.com/ebtrace/ebtrace/internal/source"
)

// maxNesting bounds how deeply expressions and blocks may nest, so that
// hostile input cannot exhaust the stack.
const maxNesting = 500

// Parse parses a whole script. On failure it returns a *source.Diagnostics
// holding every syntax error it found, each with code "syntax".
func Parse(f *source.File) (*Program, error) {
	p := &parser{file: f, diags: &source.Diagnostics{File: f}}
	p.s = scanner{src: f.Text, report: p.lexError}
	prog := &Program{File: f}
	for {
		p.quiet = false
		p.s.skipSpace()
		if p.s.pos >= len(p.s.src) {
			break
		}
		if p.atConfig() {
			p.configBlock(prog)
			continue
		}
		if p.decl(prog) {
			continue
		}
		if pr := p.probe(); pr != nil {
			prog.Probes = append(prog.Probes, pr)
		}
	}
	if len(prog.Probes) == 0 && len(p.diags.Items) == 0 {
		p.errorf(source.Span{}, "no probes").
			Hint(`a script needs at least one probe, e.g. BEGIN { printf("hello\n"); }`)
	}
	if len(p.diags.Items) == 0 {
		p.expandMacros(prog)
	}
	if len(p.diags.Items) == 0 {
		resolveScopes(prog, p.diags)
	}
	if err := p.diags.Err(); err != nil {
		return nil, err
	}
	return prog, nil
}

// bailout is the panic value that abandons the current statement or probe
// header after an error; the parser recovers from it and resynchronises.
type bailout struct{}

type parser struct {
	file  *source.File
	s     scanner
	tok   token
	prev  source.Pos // end of the token before tok
	diags *source.Diagnostics

	// quiet suppresses errors after one has been reported, until the parser
	// is back in step at a statement or probe boundary; it keeps one mistake
	// from being reported as a cascade.
	quiet bool
	last  source.Span // span of the last reported error

	inPred bool // parsing a predicate: a '/' before '{' closes it
	nest   int
}

func (p *parser) next() {
	p.prev = p.tok.sp.End
	p.tok = p.s.scan()
}

// errorf records a syntax error unless it is likely a consequence of the
// previous one. The result takes hints; when the error was suppressed it is
// a throwaway.
func (p *parser) errorf(sp source.Span, format string, args ...any) *source.Diagnostic {
	overlaps := len(p.diags.Items) > 0 && p.last.Start <= sp.Start && sp.Start <= p.last.End
	if p.quiet || overlaps {
		p.quiet = true
		return &source.Diagnostic{}
	}
	p.quiet = true
	p.last = sp
	return p.diags.Add(sp, "syntax", "%s", fmt.Sprintf(format, args...))
}

func (p *parser) lexError(sp source.Span, hint, msg string) {
	d := p.errorf(sp, "%s", msg)
	if hint != "" {
		d.Hint("%s", hint)
	}
}

func (p *parser) bail() { panic(bailout{}) }

// recoverBailout stops a bailout panic and reports whether there was one;
// any other panic continues.
func recoverBailout(r any) bool {
	if r == nil {
		return false
	}
	if _, ok := r.(bailout); !ok {
		panic(r)
	}
	return true
}

func (p *parser) enter() {
	p.nest++
	if p.nest > maxNesting {
		p.errorf(p.tok.sp, "nesting is deeper than %d levels", maxNesting)
		p.bail()
	}
}

func (p *parser) leave() { p.nest-- }

// is reports whether the current token is the operator, punctuation or
// keyword s.
func (p *parser) is(s string) bool {
	return (p.tok.kind == tPunct || p.tok.kind == tKeyword) && p.tok.text == s
}

// describe names a token for messages.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		return "string literal"
	case tIdent:
		return "identifier " + shorten(t.text)
	case tInt:
		return "integer " + shorten(t.text)
	case tVar:
		return "variable " + shorten(t.text)
	case tMap:
		return "map " + shorten(t.text)
	case tParam:
		return "positional parameter " + shorten(t.text)
	}
	return "'" + shorten(t.text) + "'"
}

// expect consumes the token s or reports what was found instead and bails.
func (p *parser) expect(s, context string) token {
	if !p.is(s) {
		d := p.errorf(p.tok.sp, "expected '%s'%s, found %s", s, context, describe(p.tok))
		if s == ")" && p.is("=") {
			d.Hint("use '==' to compare; assignment is a statement, not an expression")
		}
		p.bail()
	}
	t := p.tok
	p.next()
	return t
}

// text returns the source text of sp, shortened for messages.
func (p *parser) text(sp source.Span) string { return shorten(p.file.Text[sp.Start:sp.End]) }

// shorten cuts s to at most about 40 bytes for messages, at a rune boundary.
func shorten(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 37
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func span(start, end source.Pos) source.Span { return source.Span{Start: start, End: end} }

// probe parses one probe starting at the current position in raw mode.
// After an error in the header it skips to the next '{', still checks the
// block, and returns nil.
func (p *parser) probe() (pr *Probe) {
	start := source.Pos(p.s.pos)
	defer func() {
		if recoverBailout(recover()) {
			pr = nil
			p.inPred = false
			p.nest = 0
			for p.tok.kind != tEOF && !p.is("{") {
				p.next()
			}
			if p.is("{") {
				p.quiet = false
				p.block(false)
			}
		}
	}()
	pr = &Probe{}
	for {
		c := p.s.at(0)
		if !isLetter(c) && c != '*' {
			p.next()
			p.errorf(p.tok.sp, "expected an attach point, found %s", describe(p.tok)).
				Hint("a probe is one or more attach points, an optional /predicate/, then a { block }")
			p.bail()
		}
		raw, sp, ok := p.s.scanAttach()
		if !ok {
			p.next()
			p.bail()
		}
		pr.Attach = append(pr.Attach, &AttachPoint{Raw: raw, Sp: sp})
		p.s.skipSpace()
		if p.s.at(0) != ',' {
			break
		}
		p.s.pos++
		p.s.skipSpace()
	}
	if p.s.at(0) == '/' {
		p.s.pos++
		p.inPred = true
		p.next()
		pr.Pred = p.expr()
		if !p.is("/") {
			d := p.errorf(p.tok.sp, "missing closing '/' of the predicate")
			if p.is("{") {
				d.Hint("a predicate is written /expr/ between the attach points and the block")
			}
			p.bail()
		}
		p.inPred = false
	}
	p.next()
	if !p.is("{") {
		what := "attach point"
		if pr.Pred != nil {
			what = "predicate"
		}
		p.errorf(p.tok.sp, "expected '{' after the %s, found %s", what, describe(p.tok)).
			Hint("a probe is one or more attach points, an optional /predicate/, then a { block }")
		p.bail()
	}
	pr.Body = p.block(false)
	pr.Sp = span(start, pr.Body.Sp.End)
	return pr
}

// atConfig reports whether a config block starts at the current position:
// the word config, then '='.
func (p *parser) atConfig() bool {
	peek := p.lookahead()
	if t := peek.scan(); t.kind != tIdent || t.text != "config" {
		return false
	}
	t := peek.scan()
	return t.kind == tPunct && t.text == "="
}

// configBlock parses `config = { name = value; ... }` into prog.Config.
// Like a probe's block it leaves the scanner just after the closing '}';
// after an error it skips to that '}'.
func (p *parser) configBlock(prog *Program) {
	p.next()
	kw := p.tok
	switch {
	case prog.Config != nil:
		p.errorf(kw.sp, "a script has at most one config block").Hint("merge the settings into the first config block")
	case len(prog.Probes) > 0:
		p.errorf(kw.sp, "the config block must come before the probes").Hint("move it to the top of the script")
	}
	defer func() {
		if recoverBailout(recover()) {
			for p.tok.kind != tEOF && !p.is("}") {
				p.next()
			}
		}
	}()
	p.next()
	p.next()
	if !p.is("{") {
		p.errorf(p.tok.sp, "expected '{' after 'config =', found %s", describe(p.tok)).
			Hint("settings are written config = { max_strlen = 128; }")
		p.bail()
	}
	open := p.tok
	cfg := &Config{}
	p.next()
	for !p.is("}") {
		switch {
		case p.is(";"):
			p.next()
			continue
		case p.tok.kind == tEOF:
			p.errorf(open.sp, "unclosed '{' of the config block: expected '}' before the end of the file")
			p.bail()
		case p.tok.kind != tIdent:
			p.errorf(p.tok.sp, "expected a setting name in the config block, found %s", describe(p.tok)).
				Hint("settings are written name = value;")
			p.bail()
		}
		name := p.tok
		p.next()
		p.expect("=", " after the setting name "+shorten(name.text))
		cfg.Settings = append(cfg.Settings, &Setting{Name: name.text, NameSp: name.sp, Value: p.expr()})
		if !p.is(";") && !p.is("}") {
			p.errorf(p.tok.sp, "expected ';' or '}' after a setting, found %s", describe(p.tok)).
				Hint("separate settings with ';'")
			p.bail()
		}
	}
	cfg.Sp = span(kw.sp.Start, p.tok.sp.End)
	if prog.Config == nil {
		prog.Config = cfg
	}
}

// slashEndsPred reports whether the current '/' closes the predicate: the
// next token is '{' or the end of the file.
func (p *parser) slashEndsPred() bool {
	t := p.peek()
	return t.kind == tEOF || t.kind == tPunct && t.text == "{"
}

// block parses `{ stmt; ... }` at the current '{' token. With advance it
// moves past the closing '}'; without, the scanner is left just after it so
// that the caller can continue in raw mode.
func (p *parser) block(advance bool) *Block {
	p.enter()
	defer p.leave()
	open := p.tok
	p.next()
	b := &Block{}
	for {
		switch {
		case p.is(";"):
			p.quiet = false
			p.next()
			continue
		case p.is("}"):
			b.Sp = span(open.sp.Start, p.tok.sp.End)
			if advance {
				p.next()
			}
			return b
		case p.tok.kind == tEOF:
			p.errorf(open.sp, "unclosed '{': expected '}' before the end of the file")
			b.Sp = span(open.sp.Start, p.tok.sp.End)
			return b
		}
		st := p.stmtOrSync()
		if st == nil {
			continue
		}
		b.Stmts = append(b.Stmts, st)
		_, isExpr := st.(*ExprStmt)
		b.Tail = isExpr && p.is("}")
		switch st.(type) {
		case *IfStmt, *Block, *WhileStmt, *UnrollStmt, *ForRangeStmt, *ForMapStmt:
			// At the end of the file the unclosed block has been reported
			// already; staying quiet keeps the enclosing ones from repeating it.
			if p.tok.kind != tEOF {
				p.quiet = false
			}
			continue
		}
		if !p.is(";") && !p.is("}") && p.tok.kind != tEOF {
			d := p.errorf(p.tok.sp, "expected ';' or '}' after a statement, found %s", describe(p.tok))
			switch es, _ := st.(*ExprStmt); {
			case p.tok.kind == tIdent || p.tok.kind == tVar || p.tok.kind == tMap || p.tok.kind == tKeyword:
				d.Hint("separate statements with ';'")
			case es != nil && (p.is("{") || p.is(":")):
				if _, ok := es.X.(*Ident); ok {
					d.Hint("this looks like a probe inside a block; is the previous probe missing its '}'?")
				}
			}
		}
	}
}

// stmtOrSync parses a statement; after an error it skips to the end of the
// statement and returns nil.
func (p *parser) stmtOrSync() (st Stmt) {
	nest := p.nest
	defer func() {
		if recoverBailout(recover()) {
			st = nil
			p.nest = nest
			p.sync()
		}
	}()
	return p.stmt()
}

// sync skips tokens to the end of a broken statement: past a ';', up to a
// '}' that closes the enclosing block, or past a balanced { ... } (and any
// else that follows it).
func (p *parser) sync() {
	depth := 0
	for p.tok.kind != tEOF {
		switch {
		case p.is("{"):
			depth++
		case p.is("}"):
			if depth == 0 {
				p.quiet = false
				return
			}
			depth--
			if depth == 0 {
				p.next()
				if p.is("else") {
					continue
				}
				p.quiet = false
				return
			}
		case p.is(";") && depth == 0:
			p.quiet = false
			p.next()
			return
		}
		p.next()
	}
}

func (p *parser) stmt() Stmt {
	switch {
	case p.is("if"):
		return p.ifStmt()
	case p.is("{"):
		return p.block(true)
	case p.is("while"), p.is("for"), p.is("unroll"):
		return p.loopStmt()
	case p.is("break"), p.is("continue"), p.is("return"):
		st := &JumpStmt{Keyword: p.tok.text, Sp: p.tok.sp}
		p.next()
		if st.Keyword == "return" && !p.is(";") && !p.is("}") && p.tok.kind != tEOF {
			st.Value = p.expr()
		}
		return st
	case p.is("else"):
		p.errorf(p.tok.sp, "'else' without a matching 'if'")
		p.bail()
	case p.is("let"):
		return p.letStmt()
	}
	x := p.expr()
	if p.tok.kind != tPunct || !assignOps[p.tok.text] {
		return &ExprStmt{X: x}
	}
	op := p.tok
	switch x := x.(type) {
	case *MapExpr, *VarExpr:
	case *Ident:
		if x.Name == "_" && op.text == "=" {
			p.next()
			return &ExprStmt{X: p.expr(), Discard: true}
		}
		p.errorf(x.Span(), "cannot assign to %s", x.Name).
			Hint("only maps (@name) and scratch variables ($name) can be assigned; _ = x drops a value")
	default:
		p.errorf(x.Span(), "cannot assign to %s", p.text(x.Span())).
			Hint("only maps (@name) and scratch variables ($name) can be assigned")
	}
	p.next()
	v := p.expr()
	return &AssignStmt{Target: x, Op: op.text, OpSp: op.sp, Value: v}
}

var assignOps = map[string]bool{
	"=": true, "+=": true, "-=": true, "*=": true, "/=": true, "%=": true,
	"&=": true, "|=": true, "^=": true, "<<=": true, ">>=": true,
}

func (p *parser) ifStmt() *IfStmt {
	p.enter()
	defer p.leave()
	start := p.tok.sp.Start
	p.next()
	p.expect("(", " after 'if'")
	cond := p.expr()
	p.expect(")", " after the if condition")
	s := &IfStmt{Cond: cond, Then: p.braceBlock("the if condition")}
	s.Sp = span(start, s.Then.Sp.End)
	if !p.is("else") {
		return s
	}
	p.next()
	if p.is("if") {
		s.Else = p.ifStmt()
	} else {
		s.Else = p.braceBlock("'else'")
	}
	s.Sp.End = s.Else.Span().End
	return s
}

// braceBlock parses a block that the grammar requires after what.
func (p *parser) braceBlock(what string) *Block {
	if !p.is("{") {
		p.errorf(p.tok.sp, "expected '{' after %s, found %s", what, describe(p.tok)).
			Hint("the body of if and else must be a { block }")
		p.bail()
	}
	return p.block(true)
}

// binaryPrec gives the precedence of each binary operator; higher binds
// tighter.
var binaryPrec = map[string]int{
	"||": 1,
	"&&": 2,
	"|":  3,
	"^":  4,
	"&":  5,
	"==": 6, "!=": 6,
	"<": 7, "<=": 7, ">": 7, ">=": 7,
	"<<": 8, ">>": 8,
	"+": 9, "-": 9,
	"*": 10, "/": 10, "%": 10,
}

// expr parses an expression: a conditional, the loosest form.
func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	cond := p.binary(1)
	if !p.is("?") {
		return cond
	}
	p.next()
	then := p.expr()
	p.expect(":", " in conditional expression")
	return &CondExpr{Cond: cond, Then: then, Else: p.expr()}
}

// binary parses a chain of binary operators of precedence at least min.
func (p *parser) binary(min int) Expr {
	x := p.unary()
	for p.tok.kind == tPunct {
		prec := binaryPrec[p.tok.text]
		if prec < min || prec == 0 || p.inPred && p.is("/") && p.slashEndsPred() {
			break
		}
		op := p.tok
		p.next()
		y := p.binary(prec + 1)
		x = &BinaryExpr{X: x, Op: op.text, OpSp: op.sp, Y: y}
	}
	return x
}

func (p *parser) unary() Expr {
	if p.tok.kind != tPunct {
		return p.postfix()
	}
	op := p.tok
	switch op.text {
	case "!", "~", "-", "*", "&":
		p.enter()
		defer p.leave()
		p.next()
		x := p.unary()
		return &UnaryExpr{Op: op.text, X: x, Sp: span(op.sp.Start, p.prev)}
	case "++", "--":
		p.enter()
		defer p.leave()
		p.next()
		x := p.unary()
		p.checkIncDec(op.text, x, span(x.Span().Start, p.prev))
		return &IncDecExpr{X: x, Op: op.text, Sp: span(op.sp.Start, p.prev)}
	}
	return p.postfix()
}

// checkIncDec reports an increment of something other than a map or variable.
func (p *parser) checkIncDec(op string, x Expr, sp source.Span) {
	switch x.(type) {
	case *MapExpr, *VarExpr:
		return
	}
	p.errorf(sp, "cannot apply '%s' to %s", op, p.text(sp)).
		Hint("only maps (@name) and scratch variables ($name) can be incremented or decremented")
}

func (p *parser) postfix() Expr {
	x, full := p.primary()
	for p.tok.kind == tPunct {
		switch op := p.tok; op.text {
		case "++", "--":
			p.checkIncDec(op.text, x, full)
			x = &IncDecExpr{X: x, Op: op.text, Post: true, Sp: span(full.Start, op.sp.End)}
			full = x.Span()
			p.next()
		case ".", "->":
			p.next()
			if op.text == "." && p.tok.kind == tInt {
				x = p.tupleIndex(x)
				full.End = p.tok.sp.End
				p.next()
				continue
			}
			if p.tok.kind != tIdent && p.tok.kind != tKeyword {
				p.errorf(p.tok.sp, "expected a field name after '%s', found %s", op.text, describe(p.tok))
				p.bail()
			}
			x = &FieldExpr{X: x, Name: p.tok.text, Arrow: op.text == "->", NameSp: p.tok.sp}
			full.End = p.tok.sp.End
			p.next()
		case "[":
			p.next()
			i := p.expr()
			p.expect("]", " to close '['")
			x = &IndexExpr{X: x, Index: i, Sp: span(full.Start, p.prev)}
			full = x.Span()
		default:
			return x
		}
	}
	return x
}

// primary parses an operand. It also returns the operand's full extent,
// which includes any enclosing parentheses.
func (p *parser) primary() (Expr, source.Span) {
	t := p.tok
	switch t.kind {
	case tInt:
		p.next()
		return &IntLit{Value: t.num, Sp: t.sp}, t.sp
	case tString:
		p.next()
		return &StringLit{Value: t.str, Sp: t.sp}, t.sp
	case tVar:
		p.next()
		return &VarExpr{Name: t.str, Sp: t.sp}, t.sp
	case tParam:
		p.next()
		return &ParamExpr{N: int(t.num), Sp: t.sp}, t.sp
	case tIdent:
		p.next()
		if p.is("(") && (t.text == "sizeof" || t.text == "offsetof") {
			if t.text == "sizeof" {
				x := p.sizeof(t.sp.Start)
				return x, x.Span()
			}
			x := p.offsetof(t.sp.Start)
			return x, x.Span()
		}
		if !p.is("(") {
			return &Ident{Name: t.text, Sp: t.sp}, t.sp
		}
		open := p.tok.sp
		p.next()
		call := &CallExpr{Fun: t.text, FunSp: t.sp}
		call.Args = p.list(open, ")", "the arguments of "+t.text+"()")
		call.Sp = span(t.sp.Start, p.prev)
		return call, call.Sp
	case tMap:
		p.next()
		m := &MapExpr{Name: t.str, Sp: t.sp}
		if p.is("[") {
			open := p.tok.sp
			p.next()
			m.Keys = p.list(open, "]", "map keys")
			m.Sp.End = p.prev
		}
		return m, m.Sp
	case tPunct:
		if t.text == "(" {
			return p.parenOrTuple(t)
		}
		if t.text == "{" {
			x := p.blockExpr()
			return x, x.Span()
		}
	}
	d := p.errorf(t.sp, "expected an expression, found %s", describe(t))
	if p.inPred && t.text == "/" {
		d.Hint("the predicate is empty")
	}
	panic(bailout{})
}

// list parses comma-separated expressions up to and including close; the
// opening bracket has been consumed. An empty list is allowed for calls only.
func (p *parser) list(open source.Span, close, what string) []Expr {
	if p.is(close) && close == ")" {
		p.next()
		return nil
	}
	var xs []Expr
	for {
		xs = append(xs, p.expr())
		if p.is(",") {
			p.next()
			continue
		}
		if !p.is(close) {
			line, col := p.diags.File.Position(open.Start)
			p.errorf(p.tok.sp, "expected '%s' or ',' in %s, found %s", close, what, describe(p.tok)).
				Hint("the '%s' at %d:%d is not closed", p.diags.File.Text[open.Start:open.End], line, col)
			p.bail()
		}
		p.next()
		return xs
	}
}

// lookahead returns a copy of the scanner that reads on from the current
// position without moving the parser or reporting errors.
func (p *parser) lookahead() scanner {
	ahead := p.s
	ahead.report = nil
	return ahead
}

// peek returns the token after the current one.
func (p *parser) peek() token {
	ahead := p.lookahead()
	return ahead.scan()
}
