package check

import (
	"strings"

	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// funcChecker is what the type rules of package funcs see of the checker.
type funcChecker struct{ c *checker }

var _ funcs.Checker = funcChecker{}

func (f funcChecker) Expr(e syntax.Expr) types.Type { return f.c.expr(e) }

func (f funcChecker) ExprReported(e syntax.Expr) (types.Type, bool) { return f.c.exprReported(e) }

func (f funcChecker) Errorf(sp source.Span, code, format string, args ...any) *source.Diagnostic {
	return f.c.errorf(sp, code, format, args...)
}

func (f funcChecker) SetType(e syntax.Expr, t types.Type) { f.c.cur.Types[e] = t }

func (f funcChecker) SetConst(e syntax.Expr, v uint64) { f.c.cur.Consts[e] = v }

func (f funcChecker) SetArg(e syntax.Expr, a probe.Arg) { f.c.cur.Args[e] = a }

func (f funcChecker) Learning() bool { return f.c.learning }

func (f funcChecker) Instance() probe.Instance { return f.c.cur.Instance }

func (f funcChecker) Env() *probe.Env { return f.c.env }

func (f funcChecker) Addressable(e syntax.Expr) bool { return f.c.addressable(e) }

func (f funcChecker) CType(e syntax.Expr) string { return f.c.cur.CNames[e] }

func (f funcChecker) Rewrite(e *syntax.CallExpr, x syntax.Expr) types.Type {
	f.c.cur.Rewrites[e] = x
	return f.c.expr(x)
}

func (f funcChecker) Option(name string) (string, bool) {
	for _, p := range f.c.info.Params {
		if p == "--"+name {
			return "", true
		}
		if v, ok := strings.CutPrefix(p, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func (f funcChecker) File() *source.File { return f.c.info.Program.File }

func (f funcChecker) Fold(e syntax.Expr) (any, bool) { return f.c.fold(e) }

func (f funcChecker) Unreachable() bool { return f.c.dead > 0 }

func (f funcChecker) MaxStrlen() int { return f.c.info.Config.MaxStrlen }

func (f funcChecker) Map(e *syntax.MapExpr) (funcs.MapShape, bool) {
	c := f.c
	c.cur.Types[e] = types.None
	m, ok := c.lookupMap(e, nil)
	if !ok {
		if !c.learning {
			c.unassigned(e.Sp, e.Name, "never assigned")
		}
		return funcs.MapShape{}, false
	}
	return funcs.MapShape{Kind: m.Kind, Keyed: m.Keyed, Bits: m.Bits}, true
}

// addressable reports whether e is an array whose bytes can be read: a
// tracepoint field or a struct member.
func (c *checker) addressable(e syntax.Expr) bool {
	_, arg := c.cur.Args[e]
	return arg || InMemory(e, c.cur)
}
