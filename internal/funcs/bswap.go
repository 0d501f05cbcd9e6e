package funcs

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// bswap reverses the bytes of an integer of its own width: a port or an
// address the kernel keeps in network byte order reads as a number.
var bswap = Func{
	Name: "bswap", Min: 1, Max: 1, Doc: "an integer with its bytes reversed, at its own width",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		t, reported := c.ExprReported(e.Args[0])
		if !t.IsInt() || t.Kind == types.Ptr {
			if !reported {
				c.Errorf(e.Args[0].Span(), "type", "bswap() needs an integer, not %s", t)
			}
			return types.UInt64
		}
		return types.IntOf(t.Size, false)
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		g.Int(e.Args[0])
		switch g.Type(e).Size {
		case 2:
			g.Emit(asm.HostTo(asm.BE, asm.R0, asm.Half))
		case 4:
			g.Emit(asm.HostTo(asm.BE, asm.R0, asm.Word))
		case 8:
			g.Emit(asm.HostTo(asm.BE, asm.R0, asm.DWord))
		}
	},
}
