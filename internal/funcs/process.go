package funcs

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
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

// commOf is comm, called: without an argument the builtin, the current
// thread's name; with a process id the name of the task of that id (in
// the initial PID namespace, as the kernel's bpf_task_from_pid looks it
// up), empty when there is none.
var commOf = Func{
	Name: "comm", Max: 1, Doc: "the name of the current thread, or comm(PID) of the task of that process id",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		if len(e.Args) == 0 {
			return c.Rewrite(e, &syntax.Ident{Name: "comm", Sp: e.Sp})
		}
		t, reported := c.ExprReported(e.Args[0])
		if !reported && (!t.IsInt() || t.Kind == types.Ptr) {
			c.Errorf(e.Args[0].Span(), "type", "comm() takes a process id, an integer, not %s", t)
			return types.String(16)
		}
		if reported || c.Learning() {
			return types.String(16)
		}
		off, err := taskCommOffset(c)
		if err != nil {
			c.Errorf(e.Sp, "kernel", "comm(pid): %v", err).
				Hint("it needs the kernel's BTF and its functions bpf_task_from_pid and bpf_task_release (Linux 6.2)")
			return types.String(16)
		}
		c.SetConst(e, uint64(off))
		return types.String(16)
	},
	// The task is held from bpf_task_from_pid to bpf_task_release; its
	// comm is read in between, 16 bytes the kernel keeps zero-padded.
	To: func(g Generator, e *syntax.CallExpr, dst int16, t types.Type) {
		from, release := g.KernelFunc("bpf_task_from_pid"), g.KernelFunc("bpf_task_release")
		g.Zero(dst, types.Align8(t.Size))
		g.Int(e.Args[0])
		none := g.NewLabel("notask")
		task := g.Alloc(8)
		off := int16(g.Const(e))
		g.Emit(
			asm.Mov.Reg32(asm.R1, asm.R0),
			emit.KfuncCall(from),
			asm.JEq.Imm(asm.R0, 0, none),
			asm.StoreMem(asm.R10, task, asm.R0, asm.DWord),
			asm.LoadMem(asm.R1, asm.R0, off, asm.DWord),
			asm.StoreMem(asm.R10, dst, asm.R1, asm.DWord),
			asm.LoadMem(asm.R1, asm.R0, off+8, asm.DWord),
			asm.StoreMem(asm.R10, dst+8, asm.R1, asm.DWord),
			asm.LoadMem(asm.R1, asm.R10, task, asm.DWord),
			emit.KfuncCall(release),
		)
		g.Label(none)
	},
}

// taskCommOffset is the offset of comm in the kernel's struct task_struct,
// after checking that the kernel has the functions comm(pid) calls: code
// generation would report them missing too, but without the hint.
func taskCommOffset(c Checker) (int, error) {
	spec, err := c.Env().Types()
	if err != nil {
		return 0, err
	}
	for _, name := range []string{"bpf_task_from_pid", "bpf_task_release"} {
		var fn *btf.Func
		if err := spec.TypeByName(name, &fn); err != nil {
			return 0, fmt.Errorf("kernel function %s: %w", name, err)
		}
	}
	return kernel.TaskCommIn(spec)
}
