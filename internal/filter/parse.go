package filter

import (
	"slices"
	"strings"

	"github.com/ebtrace/ebtrace/internal/source"
)

// Parse parses a filter in the kernel's syntax:
//
//	expr := and ('||' and)*
//	and  := unary ('&&' unary)*
//	unary:= '!' unary | '(' expr ')' | pred
//	pred := FIELD ['.' SUFFIX] OP VALUE
//
// && binds tighter than ||, as in C and the kernel. A VALUE is a quoted
// string ('...' or "...", no escapes), a number token (a digit or '-'
// followed by letters and digits, checked against the field by Compile) or a
// bare word (only meaningful after .function). Errors are
// *source.Diagnostics whose spans point into src.
func Parse(src string) (*Expr, error) {
	p := &parser{src: src, diags: &source.Diagnostics{File: source.NewFile(diagFile, src)}}
	p.skipSpace()
	if p.pos == len(src) {
		p.errorf(p.pos, p.pos, "syntax", "empty filter").
			Hint(`write a predicate such as 'common_pid == 1234'`)
		return nil, p.diags
	}
	e := p.or()
	if e != nil && p.pos < len(src) {
		if src[p.pos] == ')' {
			p.errorf(p.pos, p.pos+1, "syntax", "')' without a matching '('")
		} else {
			p.errorf(p.pos, p.pos+1, "syntax", "expected && or || between predicates")
		}
	}
	if err := p.diags.Err(); err != nil {
		return nil, err
	}
	return e, nil
}

type parser struct {
	src   string
	pos   int
	diags *source.Diagnostics
	depth int
}

// maxDepth bounds parenthesis and '!' nesting so hostile input cannot
// exhaust the stack.
const maxDepth = 100

func (p *parser) errorf(start, end int, code, format string, args ...any) *source.Diagnostic {
	end = min(end, len(p.src))
	return p.diags.Add(source.Span{Start: source.Pos(start), End: source.Pos(end)}, code, format, args...)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// accept consumes tok (after spaces) when it is next.
func (p *parser) accept(tok string) bool {
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

// atEnd reports a logical operator (&&, || or !) that ends the filter.
// The kernel ignores one; Parse rejects it as the slip it likely is.
func (p *parser) atEnd(op string) bool {
	end := p.pos
	p.skipSpace()
	if p.pos < len(p.src) {
		return false
	}
	p.errorf(end-len(op), end, "trailing-operator", "%s ends the filter without a predicate after it", op).
		Hint("remove it or add the missing predicate")
	return true
}

func (p *parser) or() *Expr {
	x := p.and()
	for x != nil && p.accept("||") {
		if p.atEnd("||") {
			return nil
		}
		y := p.and()
		if y == nil {
			return nil
		}
		x = &Expr{Kind: Or, X: x, Y: y, Span: source.Join(x.Span, y.Span), file: p.diags.File}
	}
	return x
}

func (p *parser) and() *Expr {
	x := p.unary()
	for x != nil && p.accept("&&") {
		if p.atEnd("&&") {
			return nil
		}
		y := p.unary()
		if y == nil {
			return nil
		}
		x = &Expr{Kind: And, X: x, Y: y, Span: source.Join(x.Span, y.Span), file: p.diags.File}
	}
	return x
}

func (p *parser) unary() *Expr {
	p.skipSpace()
	start := p.pos
	if p.depth >= maxDepth {
		p.errorf(start, start+1, "syntax", "filter nests deeper than %d levels", maxDepth)
		return nil
	}
	p.depth++
	defer func() { p.depth-- }()
	switch {
	case p.pos < len(p.src) && p.src[p.pos] == '!' && !strings.HasPrefix(p.src[p.pos:], "!="):
		p.pos++
		if p.atEnd("!") {
			return nil
		}
		x := p.unary()
		if x == nil {
			return nil
		}
		return &Expr{Kind: Not, X: x, Span: source.Span{Start: source.Pos(start), End: x.Span.End}, file: p.diags.File}
	case p.pos < len(p.src) && p.src[p.pos] == '(':
		p.pos++
		x := p.or()
		if x == nil {
			return nil
		}
		if !p.accept(")") {
			p.errorf(start, start+1, "syntax", "'(' is never closed")
			return nil
		}
		return x
	}
	return p.pred()
}

// suffixes are the field suffixes the kernel knows.
var suffixes = []string{"ustring", "function"}

// ops lists the operators longest first, so "<=" wins over "<".
var ops = []Op{Eq, Ne, Le, Ge, Lt, Gt, Band, Glob}

func (p *parser) pred() *Expr {
	start := p.pos
	for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
		p.pos++
	}
	e := &Expr{Kind: Pred, Field: p.src[start:p.pos], file: p.diags.File}
	if e.Field == "" {
		p.errorf(start, start+1, "syntax", "expected a field name").
			Hint("a predicate is FIELD OP VALUE, e.g. common_pid == 1234")
		return nil
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		sufStart := p.pos
		for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
			p.pos++
		}
		e.Suffix = p.src[sufStart:p.pos]
		if !slices.Contains(suffixes, e.Suffix) {
			d := p.errorf(sufStart-1, p.pos, "syntax", "unknown field suffix %q", "."+e.Suffix)
			if close := source.Closest(e.Suffix, suffixes, 1); len(close) > 0 {
				d.Hint("did you mean .%s?", close[0])
			}
			d.Hint("suffixes are .ustring (a user-space string pointer) and .function (a kernel address)")
			return nil
		}
	}
	e.FieldSpan = source.Span{Start: source.Pos(start), End: source.Pos(p.pos)}
	p.skipSpace()
	opStart := p.pos
	for _, op := range ops {
		if strings.HasPrefix(p.src[p.pos:], string(op)) && !strings.HasPrefix(p.src[p.pos:], "&&") {
			e.Op = op
			p.pos += len(op)
			break
		}
	}
	if e.Op == "" {
		p.errorf(opStart, opStart+1, "syntax", "expected an operator after %s", p.src[start:e.FieldSpan.End]).
			Hint("operators are == != < <= > >= & and ~ (glob match)")
		return nil
	}
	e.OpSpan = source.Span{Start: source.Pos(opStart), End: source.Pos(p.pos)}
	p.skipSpace()
	if !p.value(e) {
		return nil
	}
	e.Span = source.Span{Start: source.Pos(start), End: e.ValueSpan.End}
	return e
}

// value reads a predicate's VALUE into e.
func (p *parser) value(e *Expr) bool {
	start := p.pos
	if p.pos == len(p.src) {
		p.errorf(start, start, "syntax", "expected a value after %s", e.Op)
		return false
	}
	switch c := p.src[p.pos]; {
	case c == '"' || c == '\'':
		end := strings.IndexByte(p.src[p.pos+1:], c)
		if end < 0 {
			p.errorf(start, len(p.src), "syntax", "string is never closed").
				Hint("close it with %c", c)
			return false
		}
		e.Value, e.Quoted = p.src[p.pos+1:p.pos+1+end], true
		p.pos += end + 2
	case c == '-' || isIdent(c):
		p.pos++
		// Dots let a .function value name a local symbol such as
		// "getname_flags.part.0".
		for p.pos < len(p.src) && (isIdent(p.src[p.pos]) || p.src[p.pos] == '.') {
			p.pos++
		}
		e.Value = p.src[start:p.pos]
	default:
		p.errorf(start, start+1, "syntax", "expected a value after %s", e.Op).
			Hint(`values are numbers or quoted strings, e.g. 42, 0x2a or "bash"`)
		return false
	}
	e.ValueSpan = source.Span{Start: source.Pos(start), End: source.Pos(p.pos)}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIdent(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
