package funcs

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// clocks are the kernel clocks nsecs(CLOCK) reads, by the name the script
// gives.
var clocks = map[string]asm.BuiltinFunc{
	"monotonic": asm.FnKtimeGetNs,     // CLOCK_MONOTONIC: not counting suspend
	"boot":      asm.FnKtimeGetBootNs, // CLOCK_BOOTTIME: counting suspend
	"tai":       asm.FnKtimeGetTaiNs,  // CLOCK_TAI (Linux 6.1)
	// sw_tai approximates CLOCK_TAI where the kernel cannot read it: the
	// boot clock plus the offset user space measured (Generator.TAIOffset).
	"sw_tai": asm.FnKtimeGetBootNs,
}

// nsecs(CLOCK) is a timestamp of one of the kernel's clocks; nsecs() and
// the bare nsecs are the builtin, CLOCK_MONOTONIC as bpftrace 0.17 read it.
var nsecs = Func{
	Name: "nsecs", Max: 1, Doc: "nanoseconds of a kernel clock: nsecs(monotonic), nsecs(boot), nsecs(tai), nsecs(sw_tai)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		if len(e.Args) == 0 {
			return c.Rewrite(e, &syntax.Ident{Name: "nsecs", Sp: e.Sp})
		}
		id, ok := e.Args[0].(*syntax.Ident)
		if ok {
			_, ok = clocks[id.Name]
		}
		if !ok {
			c.Errorf(e.Args[0].Span(), "arguments", "nsecs() takes a clock: monotonic, boot, tai or sw_tai").
				Hint("sw_tai approximates tai on kernels before Linux 6.1, which cannot read it")
			return types.UInt64
		}
		c.SetType(id, types.None)
		return types.UInt64
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		clock := e.Args[0].(*syntax.Ident).Name
		g.Emit(clocks[clock].Call())
		if clock == "sw_tai" {
			g.TAIOffset(asm.R1)
			g.Emit(asm.Add.Reg(asm.R0, asm.R1))
		}
	},
}
