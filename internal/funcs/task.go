package funcs

import (
	"strings"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Functions that stand for an expression of the language: the compiler
// compiles the expression in their place (Checker.Rewrite).

// pcomm is the name of the current task's process, its group leader's.
var pcomm = Func{
	Name: "pcomm", Max: 1, Bare: true, Rewritten: true, Doc: "the name of the current process (its main thread's comm), or of a task's: pcomm(task)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		return c.Rewrite(e, member(e, "group_leader", "comm"))
	},
}

// ppid is the process id of the current task's parent.
var ppid = Func{
	Name: "ppid", Max: 1, Bare: true, Rewritten: true, Doc: "the process id of the current process's parent, or of a task's: ppid(task)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		return c.Rewrite(e, member(e, "real_parent", "tgid"))
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

// member is the expression task->a->b->..., at the call's position: the
// task is the call's argument, curtask without one. An argument that is
// not a task pointer is reported at the member it lacks.
func member(e *syntax.CallExpr, names ...string) syntax.Expr {
	var x syntax.Expr = &syntax.Ident{Name: "curtask", Sp: e.Sp}
	if len(e.Args) == 1 {
		x = &syntax.CastExpr{Type: &syntax.TypeName{Name: "struct task_struct", Ptr: 1, Sp: e.Args[0].Span()}, X: e.Args[0], Sp: e.Args[0].Span()}
	}
	for _, n := range names {
		x = &syntax.FieldExpr{X: x, Name: n, Arrow: true, NameSp: e.Sp}
	}
	return x
}
