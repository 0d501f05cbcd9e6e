package funcs

import (
	"cmp"
	"errors"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Symbols: addresses printed as names, and names resolved to addresses
// when the script is compiled.

var ksym = Func{
	Name: "ksym", Min: 1, Max: 1, Doc: "a kernel address, printed as its symbol",
	Check: func(c Checker, e *syntax.CallExpr) types.Type { return symbol(c, e, types.Kernel) },
	Int:   argValue,
}

var usym = Func{
	Name: "usym", Min: 1, Max: 1, Doc: "a user address, printed as its symbol in the traced process",
	Check: func(c Checker, e *syntax.CallExpr) types.Type { return symbol(c, e, types.User) },
	Int:   argValue,
}

func symbol(c Checker, e *syntax.CallExpr, space types.AddrSpace) types.Type {
	if t, reported := c.ExprReported(e.Args[0]); !t.IsInt() && !reported {
		c.Errorf(e.Args[0].Span(), "type", "%s() needs an address, not %s", e.Fun, t)
	}
	return types.Symbol(space)
}

// kaddr resolves kaddr("symbol") to the symbol's address now: the value
// is a constant of the program.
var kaddr = Func{
	Name: "kaddr", Min: 1, Max: 1, Doc: "the address of a kernel symbol",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "a symbol name", "")
		if !ok || c.Learning() {
			return types.UInt64
		}
		addr, err := c.Env().KernelAddr(lit.Value)
		var pe *probe.Error
		switch {
		case errors.As(err, &pe):
			c.Errorf(lit.Sp, "undefined", "%s", pe.Msg).Hints = pe.Hints
		case err != nil:
			c.Errorf(lit.Sp, "kernel", "kaddr(%q): %v", lit.Value, err)
		default:
			c.SetConst(e, addr)
		}
		return types.UInt64
	},
	Int: loadConst,
}

// uaddr resolves uaddr("symbol") in the probe's binary: a pointer into
// the traced process, typed by the symbol's size as bpftrace types it.
// The address differs per instance, so it is one of the instance's Args.
var uaddr = Func{
	Name: "uaddr", Min: 1, Max: 1, Doc: "the address of a symbol of the probed binary",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "a symbol name", "")
		if !ok {
			return types.None
		}
		us, ok := c.Instance().(probe.UserSymbols)
		if !ok {
			c.Errorf(e.Sp, "probe", "uaddr() needs a probe on a user-space binary, not %s", c.Instance().Name()).
				Hint("use it in a uprobe, uretprobe or usdt probe, whose binary defines the symbol")
			return types.None
		}
		addr, size, err := us.UserAddr(lit.Value)
		var pe *probe.Error
		switch {
		case err == nil:
		case c.Learning():
			return types.None
		case errors.As(err, &pe):
			c.Errorf(lit.Sp, "undefined", "%s", pe.Msg).Hints = pe.Hints
			return types.None
		default:
			c.Errorf(lit.Sp, "probe", "uaddr(%q): %v", lit.Value, err)
			return types.None
		}
		elem := map[uint64]string{1: "uint8", 2: "uint16", 4: "uint32"}[size]
		t := types.Pointer(cmp.Or(elem, "uint64"), types.User)
		c.SetArg(e, probe.Arg{Type: t, Load: func(int16) asm.Instructions {
			return asm.Instructions{asm.LoadImm(asm.R0, int64(addr), asm.DWord)}
		}})
		return t
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		a, _ := g.Arg(e)
		g.LoadArg(a)
	},
}
