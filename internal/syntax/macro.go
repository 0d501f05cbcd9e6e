package syntax

import (
	"reflect"
	"strings"

	"github.com/ebtrace/ebtrace/internal/source"
)

// Macros are expanded as the script is parsed, before scopes are resolved:
// a call becomes a copy of the macro's body in which each parameter stands
// for its argument. The body's own variables are marked with the
// expansion (VarExpr.hygiene), so that they are new variables that the
// caller cannot see and that cannot see the caller's; the only maps and
// variables of the caller a body reaches are those passed to it.

// macroDecl parses `macro name(params) { body }` from the keyword on.
func (p *parser) macroDecl() *MacroDecl {
	start := p.tok.sp.Start
	p.next()
	if p.tok.kind != tIdent {
		p.errorf(p.tok.sp, "expected the macro's name after 'macro', found %s", describe(p.tok)).
			Hint("macro add_one(x) { x + 1 }")
		p.bail()
	}
	m := &MacroDecl{Name: p.tok.text, NameSp: p.tok.sp}
	p.next()
	open := p.tok.sp
	p.expect("(", " after the macro's name")
	for !p.is(")") {
		switch p.tok.kind {
		case tVar:
			m.Params = append(m.Params, &VarExpr{Name: p.tok.str, Sp: p.tok.sp})
		case tMap:
			m.Params = append(m.Params, &MapExpr{Name: p.tok.str, Sp: p.tok.sp})
		case tIdent:
			m.Params = append(m.Params, &Ident{Name: p.tok.text, Sp: p.tok.sp})
		default:
			p.errorf(p.tok.sp, "expected a parameter of macro %s, found %s", m.Name, describe(p.tok)).
				Hint("a parameter is $var (a variable), @map (a map) or name (any expression)")
			p.bail()
		}
		p.next()
		if p.is(",") {
			p.next()
		} else if !p.is(")") {
			line, col := p.diags.File.Position(open.Start)
			p.errorf(p.tok.sp, "expected ')' or ',' in the parameters of macro %s, found %s", m.Name, describe(p.tok)).
				Hint("the '(' at %d:%d is not closed", line, col)
			p.bail()
		}
	}
	p.next()
	if !p.is("{") {
		p.errorf(p.tok.sp, "expected '{' to open the body of macro %s, found %s", m.Name, describe(p.tok))
		p.bail()
	}
	m.Body = p.block(false)
	m.Sp = span(start, m.Body.Sp.End)
	return m
}

// mapDecl parses `let @name = kind(max_entries);` from the keyword on. It
// leaves the scanner just after the ';', or after the ')' without one.
func (p *parser) mapDecl() *MapDecl {
	start := p.tok.sp.Start
	p.next()
	if p.tok.kind != tMap {
		p.errorf(p.tok.sp, "expected a map after 'let' before the probes, found %s", describe(p.tok)).
			Hint("declare a map as let @name = hash(100); variables are declared inside probes")
		p.bail()
	}
	d := &MapDecl{Map: &MapExpr{Name: p.tok.str, Sp: p.tok.sp}}
	p.next()
	p.expect("=", " after the declared map")
	if p.tok.kind != tIdent {
		p.errorf(p.tok.sp, "expected the map's kind, found %s", describe(p.tok)).
			Hint("kinds: %s", strings.Join(MapKinds, ", "))
		p.bail()
	}
	d.Kind, d.KindSp = p.tok.text, p.tok.sp
	p.next()
	p.expect("(", " after the map's kind")
	if p.tok.kind != tInt {
		p.errorf(p.tok.sp, "expected the map's maximum number of entries, found %s", describe(p.tok)).
			Hint("let @%s = %s(100);", d.Map.Name, d.Kind)
		p.bail()
	}
	d.Max, d.MaxSp = p.tok.num, p.tok.sp
	p.next()
	if !p.is(")") {
		p.errorf(p.tok.sp, "expected ')' after the map's maximum number of entries, found %s", describe(p.tok))
		p.bail()
	}
	d.Sp = span(start, p.tok.sp.End)
	p.s.skipSemicolon()
	return d
}

// MapKinds are the kinds a map declaration may name.
var MapKinds = []string{"hash", "lruhash", "percpuhash", "percpulruhash"}

// letStmt parses `let $x;` or `let $x = value` at the keyword.
func (p *parser) letStmt() Stmt {
	start := p.tok.sp.Start
	p.next()
	if p.tok.kind != tVar {
		d := p.errorf(p.tok.sp, "expected a variable after 'let', found %s", describe(p.tok))
		if p.tok.kind == tMap {
			d.Hint("maps are declared before the probes: let @name = hash(100);")
		} else {
			d.Hint("let $x = 1;")
		}
		p.bail()
	}
	s := &LetStmt{Var: &VarExpr{Name: p.tok.str, Sp: p.tok.sp}}
	p.next()
	if p.is("=") {
		p.next()
		s.Value = p.expr()
	}
	s.Sp = span(start, p.prev)
	return s
}

// blockExpr parses a block used as a value at its '{'.
func (p *parser) blockExpr() *BlockExpr {
	b := p.block(true)
	if !b.Tail {
		p.errorf(b.Sp, "a block used as a value must end with an expression, with no ';' after it").
			Hint("{ let $x = 1; $x + 1 }")
		p.bail()
	}
	return &BlockExpr{Block: b}
}

// expander replaces macro calls by their bodies.
type expander struct {
	p      *parser
	macros map[string]*MacroDecl
	active []string // the macros being expanded, outermost first
	n      int      // expansions so far: each one's hygiene mark
}

func (p *parser) expandMacros(prog *Program) {
	if len(prog.Macros) == 0 {
		return
	}
	x := &expander{p: p, macros: map[string]*MacroDecl{}}
	for _, m := range prog.Macros {
		if prev, ok := x.macros[m.Name]; ok {
			line, _ := p.file.Position(prev.NameSp.Start)
			p.diags.Add(m.NameSp, "syntax", "macro %s is already defined on line %d", m.Name, line)
			continue
		}
		seen := map[string]bool{}
		for _, param := range m.Params {
			name := p.file.Text[param.Span().Start:param.Span().End]
			if seen[name] {
				p.diags.Add(param.Span(), "syntax", "macro %s has two parameters %s", m.Name, name)
			}
			seen[name] = true
		}
		x.macros[m.Name] = m
	}
	for _, pr := range prog.Probes {
		if pr.Pred != nil {
			pr.Pred = x.expr(pr.Pred)
		}
		x.walk(reflect.ValueOf(pr.Body))
	}
}

// walk expands the macro calls in the node v points to and below.
func (x *expander) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			x.walk(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			switch f.Type() {
			case exprType:
				if !f.IsNil() {
					f.Set(reflect.ValueOf(x.expr(f.Interface().(Expr))))
				}
			case exprsType:
				for j := 0; j < f.Len(); j++ {
					e := f.Index(j)
					e.Set(reflect.ValueOf(x.expr(e.Interface().(Expr))))
				}
			case stmtsType:
				for j := 0; j < f.Len(); j++ {
					e := f.Index(j)
					if s, ok := e.Interface().(*ExprStmt); ok {
						if m, args, ok := x.call(s.X); ok {
							if b := x.expand(m, args, s.X); b != nil {
								e.Set(reflect.ValueOf(Stmt(b)))
							}
							continue
						}
					}
					x.walk(e)
				}
			default:
				x.walk(f)
			}
		}
	case reflect.Interface:
		if !v.IsNil() {
			x.walk(v.Elem())
		}
	case reflect.Slice:
		for j := 0; j < v.Len(); j++ {
			x.walk(v.Index(j))
		}
	}
}

var (
	exprType  = reflect.TypeFor[Expr]()
	exprsType = reflect.TypeFor[[]Expr]()
	stmtsType = reflect.TypeFor[[]Stmt]()
)

// call returns the macro e calls and its arguments, if it calls one: a
// call by name, or a bare name for a macro without parameters.
func (x *expander) call(e Expr) (*MacroDecl, []Expr, bool) {
	switch e := e.(type) {
	case *CallExpr:
		m, ok := x.macros[e.Fun]
		return m, e.Args, ok
	case *Ident:
		m, ok := x.macros[e.Name]
		return m, nil, ok && len(m.Params) == 0
	}
	return nil, nil, false
}

// expr returns e with macro calls expanded, e itself when it is not one.
func (x *expander) expr(e Expr) Expr {
	m, args, ok := x.call(e)
	if !ok {
		x.walk(reflect.ValueOf(e))
		return e
	}
	b := x.expand(m, args, e)
	if b == nil {
		return e
	}
	if !b.Tail {
		x.p.diags.Add(e.Span(), "syntax", "macro %s has no value: its body does not end with an expression", m.Name).
			Hint("call it as a statement, or end its body with an expression and no ';'")
		return e
	}
	return &BlockExpr{Block: b}
}

// expand returns a copy of m's body for the call site at, with the
// arguments in place of the parameters and macros within expanded; nil
// after an error.
func (x *expander) expand(m *MacroDecl, args []Expr, at Expr) *Block {
	d := x.p.diags
	if len(args) != len(m.Params) {
		d.Add(at.Span(), "syntax", "macro %s takes %d argument(s), got %d", m.Name, len(m.Params), len(args)).
			Hint("%s", x.p.file.Text[m.Sp.Start:m.Body.Sp.Start])
		return nil
	}
	for i, name := range x.active {
		if name == m.Name {
			d.Add(at.Span(), "syntax", "macro %s calls itself (through %s); macros cannot recurse", m.Name, strings.Join(x.active[i:], " -> "))
			return nil
		}
	}
	c := &cloner{vars: map[string]*VarExpr{}, maps: map[string]*MapExpr{}, exprs: map[string]Expr{}}
	ok := true
	for i, param := range m.Params {
		switch param := param.(type) {
		case *VarExpr:
			v, isVar := args[i].(*VarExpr)
			if !isVar {
				d.Add(args[i].Span(), "syntax", "macro %s's parameter $%s takes a scratch variable", m.Name, param.Name).
					Hint("pass a variable such as $x; a parameter written without $ takes any expression")
				ok = false
			}
			c.vars[param.Name] = v
		case *MapExpr:
			mp, isMap := args[i].(*MapExpr)
			if !isMap || mp.Keys != nil {
				d.Add(args[i].Span(), "syntax", "macro %s's parameter @%s takes a whole map such as @x", m.Name, param.Name)
				ok = false
			}
			c.maps[param.Name] = mp
		case *Ident:
			c.exprs[param.Name] = args[i]
		}
	}
	if !ok {
		return nil
	}
	x.n++
	c.hygiene = x.n
	c.macro = m
	c.diags = d
	body := c.clone(reflect.ValueOf(m.Body)).Interface().(*Block)
	if c.failed {
		return nil
	}
	// The copy stands where the call was; what it holds keeps the
	// body's positions, so that errors point into the macro.
	body.Sp = at.Span()
	x.active = append(x.active, m.Name)
	x.walk(reflect.ValueOf(body))
	x.active = x.active[:len(x.active)-1]
	return body
}

// cloner deep-copies a macro body for one expansion, putting arguments in
// the place of parameters.
type cloner struct {
	macro   *MacroDecl
	hygiene int
	vars    map[string]*VarExpr // $param: the caller's variable
	maps    map[string]*MapExpr // @param: the caller's map
	exprs   map[string]Expr     // param: the argument expression
	diags   *source.Diagnostics
	failed  bool
}

// clone copies the value v, nodes included, substituting parameters when
// it copies a macro's body.
func (c *cloner) clone(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		switch n := v.Interface().(type) {
		case *VarExpr:
			if c.macro == nil {
				break
			}
			if arg, ok := c.vars[n.Name]; ok {
				return reflect.ValueOf(&VarExpr{Name: arg.Name, Sp: n.Sp, hygiene: arg.hygiene})
			}
			return reflect.ValueOf(&VarExpr{Name: n.Name, Sp: n.Sp, hygiene: c.hygiene})
		case *MapExpr:
			if c.macro == nil {
				break
			}
			arg, ok := c.maps[n.Name]
			if !ok {
				c.diags.Add(n.Sp, "syntax", "macro %s uses @%s, which is not one of its parameters", c.macro.Name, n.Name).
					Hint("pass the map in: macro %s(..., @%s)", c.macro.Name, n.Name)
				c.failed = true
				return v
			}
			out := &MapExpr{Name: arg.Name, Sp: n.Sp}
			for _, k := range n.Keys {
				out.Keys = append(out.Keys, c.clone(reflect.ValueOf(k)).Interface().(Expr))
			}
			return reflect.ValueOf(out)
		case *Ident:
			if arg, ok := c.exprs[n.Name]; ok {
				// A copy per use: every node of the tree is distinct.
				return reflect.ValueOf(cloneTree(arg))
			}
		}
		out := reflect.New(v.Elem().Type())
		out.Elem().Set(c.clone(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if f := out.Field(i); f.CanSet() {
				f.Set(c.clone(v.Field(i)))
			}
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(c.clone(v.Elem()))
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(c.clone(v.Index(i)))
		}
		return out
	}
	return v
}

// cloneTree deep-copies an expression as it is.
func cloneTree(e Expr) Expr {
	c := &cloner{}
	return c.clone(reflect.ValueOf(e)).Interface().(Expr)
}
