package funcs

import (
	"github.com/cilium/ebpf/asm"

	"ebtrace/syntax"
	"ebtrace/types"
)

// clocks are the kernel clocks nsecs(CLOCK) reads, by the name the script
// gives.
var clocks = map[string]asm.BuiltinFunc{
	"monotonic": asm.FnKtimeGetNs,     // CLOCK_MONOTONIC: not counting suspend
	"boot":      asm.FnKtimeGetBootNs, // CLOCK_BOOTTIME: counting suspend
	"tai":       asm.FnKtimeGetTaiNs,  // CLOCK_TAI (Linux 6.1)
}

// nsecs(CLOCK) is a timestamp of one of the kernel's clocks; nsecs() and
// the bare nsecs are the builtin, CLOCK_MONOTONIC as bpftrace 0.17 read it.
var nsecs = Func{
	Name: "nsecs", Max: 1, Doc: "nanoseconds of a kernel clock: nsecs(monotonic), nsecs(boot), nsecs(tai)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		if len(e.Args) == 0 {
			return c.Rewrite(e, &syntax.Ident{Name: "nsecs", Sp: e.Sp})
		}
		id, ok := e.Args[0].(*syntax.Ident)
		if ok {
			_, ok = clocks[id.Name]
		}
		if !ok {
			c.Errorf(e.Args[0].Span(), "arguments", "nsecs() takes a clock: monotonic, boot or tai").
				Hint("sw_tai, bpftrace's approximation of tai for kernels without it, is not supported: nsecs(tai) needs Linux 6.1")
			return types.UInt64
		}
		c.SetType(id, types.None)
		return types.UInt64
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		g.Emit(clocks[e.Args[0].(*syntax.Ident).Name].Call())
	},
}
