package funcs

import (
	"github.com/cilium/ebpf/asm"

	"ebtrace/syntax"
	"ebtrace/types"
)

// Numbers and names of tasks: pid(NS) and tid(NS) say which PID namespace
// numbers the current task; comm(PID) names another process.

// taskID is pid or tid, called: without an argument or with curr_ns the
// builtin, as ebtrace's own PID namespace numbers the task; with init as
// the initial namespace does, the kernel's own number.
func taskID(name, what string) Func {
	return Func{
		Name: name, Max: 1, Doc: "the " + what + " of the current task: pid(curr_ns), as ebtrace's PID namespace sees it (pid), or pid(init), as the initial one does",
		Check: func(c Checker, e *syntax.CallExpr) types.Type {
			builtin := &syntax.Ident{Name: name, Sp: e.Sp}
			if len(e.Args) == 0 {
				return c.Rewrite(e, builtin)
			}
			switch id, _ := e.Args[0].(*syntax.Ident); {
			case id != nil && id.Name == "curr_ns":
				return c.Rewrite(e, builtin)
			case id != nil && id.Name == "init":
				c.SetType(id, types.None)
			default:
				c.Errorf(e.Args[0].Span(), "arguments", "%s() takes a PID namespace: curr_ns or init", name).
					Hint("%s(curr_ns) is the %s as ebtrace's namespace sees it, %s(init) as the initial namespace does", name, what, name)
			}
			return types.IntOf(4, false)
		},
		Int: func(g Generator, _ *syntax.CallExpr) {
			g.Emit(asm.FnGetCurrentPidTgid.Call())
			if name == "pid" {
				g.Emit(asm.RSh.Imm(asm.R0, 32))
			} else {
				g.Emit(asm.Mov.Reg32(asm.R0, asm.R0))
			}
		},
	}
}

var (
	pidFunc = taskID("pid", "process id")
	tidFunc = taskID("tid", "thread id")
)
