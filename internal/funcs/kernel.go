package funcs

import (
	"errors"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Questions about the kernel and the probe's machine state.

// seesRegisters reports whether the call's probe sees the registers, a
// struct pt_regs, as kprobe, uprobe, usdt and profile programs do; where
// it does not, it says so of what ("usermode", "reg()").
func seesRegisters(c Checker, e *syntax.CallExpr, what string) bool {
	if pt := c.Instance().Program().Type; pt != ebpf.Kprobe && pt != ebpf.PerfEvent {
		c.Errorf(e.Sp, "probe", "%s works only where the probe sees the registers (kprobe, uprobe, usdt, profile), not in %s", what, c.Instance().Name())
		return false
	}
	return true
}

// usermode reads the privilege level the probed code ran at from its
// registers.
var usermode = Func{
	Name: "usermode", Bare: true, Doc: "1 when the probed code ran in user mode, else 0 (kprobe, uprobe, usdt and profile probes)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		seesRegisters(c, e, "usermode")
		if _, err := arch.Host(); err != nil {
			c.Errorf(e.Sp, "probe", "usermode: %v", err)
		}
		return types.IntOf(1, false)
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		regs, _ := arch.Host()
		user, end := g.NewLabel("user"), g.NewLabel("mode")
		g.Emit(
			asm.LoadMem(asm.R0, asm.R6, int16(regs.Mode), asm.DWord),
			asm.And.Imm(asm.R0, regs.ModeMask),
			asm.JEq.Imm(asm.R0, regs.UserMode, user),
			asm.Mov.Imm(asm.R0, 0),
			asm.Ja.Label(end),
		)
		g.Label(user)
		g.Emit(asm.Mov.Imm(asm.R0, 1))
		g.Label(end)
	},
}

// reg reads a register the probe saw, from its struct pt_regs.
var reg = Func{
	Name: "reg", Min: 1, Max: 1, Doc: "a register of the probed code (kprobe, uprobe and profile probes)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "a register name", `reg("ip")`)
		if !ok {
			return types.UInt64
		}
		if !seesRegisters(c, e, "reg()") {
			return types.UInt64
		}
		regs, err := arch.Host()
		if err == nil {
			var off int
			if off, err = regs.Register(lit.Value); err == nil {
				c.SetConst(e, uint64(off))
				return types.UInt64
			}
		}
		c.Errorf(lit.Sp, "arguments", "reg(%q): %v", lit.Value, err)
		return types.UInt64
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		g.Emit(asm.LoadMem(asm.R0, asm.R6, int16(g.Const(e)), asm.DWord))
	},
}

// kfuncExist looks a kernel function up in the kernel's BTF.
var kfuncExist = Func{
	Name: "kfunc_exist", Min: 1, Max: 1, Doc: "whether the kernel's BTF has a function of that name, known when the script compiles",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "a function name", "")
		if !ok {
			return types.Boolean
		}
		spec, err := c.Env().Types()
		if err != nil {
			c.Errorf(e.Sp, "kernel", "kfunc_exist(): %v", err)
			return types.Boolean
		}
		var fn *btf.Func
		switch err := spec.TypeByName(lit.Value, &fn); {
		case err == nil:
			c.SetConst(e, 1)
		case !errors.Is(err, btf.ErrNotFound):
			c.Errorf(e.Sp, "kernel", "kfunc_exist(%q): %v", lit.Value, err)
		}
		return types.Boolean
	},
	Int: loadConst,
}

// kfuncAllowed asks the kernel, when the script compiles, whether the
// probe's program type may call a kernel function.
var kfuncAllowed = Func{
	Name: "kfunc_allowed", Min: 1, Max: 1, Doc: "whether this probe's kind of program may call a kernel function (kfunc), known when the script compiles",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "a kernel function name", `kfunc_allowed("bpf_task_from_pid")`)
		if !ok || c.Learning() {
			return types.Boolean
		}
		switch allowed, err := c.Env().KfuncAllowed(lit.Value, c.Instance().Program().Type); {
		case errors.Is(err, btf.ErrNotFound):
		case err != nil:
			c.Errorf(e.Sp, "kernel", "kfunc_allowed(%q): %v", lit.Value, err)
		case allowed:
			c.SetConst(e, 1)
		}
		return types.Boolean
	},
	Int: loadConst,
}
