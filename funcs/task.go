package funcs

import (
	"strings"

	"ebtrace/probe"
	"ebtrace/syntax"
	"ebtrace/types"
)

// Functions that stand for an expression of the language: the compiler
// compiles the expression in their place (Checker.Rewrite).

// pcomm is the name of the current task's process, its group leader's.
var pcomm = Func{
	Name: "pcomm", Bare: true, Rewritten: true, Doc: "the name of the current process (its main thread's comm)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		return c.Rewrite(e, member(e, "curtask", "group_leader", "comm"))
	},
}

// ppid is the process id of the current task's parent.
var ppid = Func{
	Name: "ppid", Bare: true, Rewritten: true, Doc: "the process id of the current process's parent",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		return c.Rewrite(e, member(e, "curtask", "real_parent", "tgid"))
	},
}

// hasCpid says whether ebtrace runs a command (-c), whose pid cpid is.
var hasCpid = Func{
	Name: "has_cpid", Bare: true, Rewritten: true, Doc: "whether ebtrace runs a command (-c), so that cpid has a value",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		return c.Rewrite(e, &syntax.BinaryExpr{Op: "!=", OpSp: e.Sp, X: &syntax.Ident{Name: "cpid", Sp: e.Sp}, Y: &syntax.IntLit{Value: 0, Sp: e.Sp}})
	},
}

// probetype is the type of the probe: the part of its name before the
// first colon, "special" for BEGIN and END.
var probetype = Func{
	Name: "probetype", Bare: true, Rewritten: true, Doc: "the probe's type: tracepoint, kprobe, ..., special for BEGIN and END",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		kind, _, _ := strings.Cut(c.Instance().Name(), ":")
		if c.Instance().Kind() != probe.Event {
			kind = "special"
		}
		return c.Rewrite(e, &syntax.StringLit{Value: kind, Sp: e.Sp})
	},
}

// member is the expression root->a->b->..., at the call's position.
func member(e *syntax.CallExpr, root string, names ...string) syntax.Expr {
	var x syntax.Expr = &syntax.Ident{Name: root, Sp: e.Sp}
	for _, n := range names {
		x = &syntax.FieldExpr{X: x, Name: n, Arrow: true, NameSp: e.Sp}
	}
	return x
}
