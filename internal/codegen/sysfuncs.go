package codegen

import (
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// mapLength leaves the number of elements of m in r0: bpf_for_each_map_elem
// with a callback that returns 0, so every element is visited, returns how
// many were. Each use has its own callback, appended after the program.
func (g *gen) mapLength(m *plan.Map) {
	fn := g.NewLabel("ebt_len")
	g.Emit(
		mapPtr(asm.R1, m.BPFName),
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(fn),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnForEachMapElem.Call(),
	)
	src := emit.Position{File: g.info.Program.File, Span: g.Pos}
	g.funcs = append(g.funcs, asm.Instructions{
		btf.WithFuncMetadata(asm.Mov.Imm(asm.R0, 0).WithSymbol(fn), callbackFunc(fn)).WithSource(src),
		asm.Return().WithSource(src),
	})
}

// stackLength leaves the number of frames of the current kstack or
// ustack in r0, read with bpf_get_stack into the per-CPU stack buffer.
func (g *gen) stackLength(t types.Type) {
	flags := int32(0)
	if t.AddrSpace == types.User {
		flags = bpfFUserStack
	}
	done, got := g.NewLabel("stacklen"), g.NewLabel("frames")
	key := g.alloc(8)
	g.Emit(emit.StoreDW(asm.R10, key, 0), mapPtr(asm.R1, plan.StackBufferMap))
	g.stackPtr(asm.R2, key)
	g.Emit(
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, done),
		asm.Mov.Reg(asm.R2, asm.R0),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R3, int32(8*t.StackDepth)),
		asm.Mov.Imm(asm.R4, flags),
		asm.FnGetStack.Call(),
		asm.JSGE.Imm(asm.R0, 0, got),
		asm.Mov.Imm(asm.R0, 0),
		asm.Ja.Label(done),
	)
	g.Label(got)
	g.Emit(asm.RSh.Imm(asm.R0, 3))
	g.Label(done)
}

// textTo writes the value of e, of a Text type t, at dst.
func (g *gen) textTo(e syntax.Expr, dst int16, t types.Type) {
	e = g.valueOf(e)
	size := types.Align8(t.Size)
	switch e := e.(type) {
	case *syntax.Ident: // username
		g.Emit(asm.FnGetCurrentUidGid.Call(), asm.Mov.Reg32(asm.R0, asm.R0), asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
		return
	case *syntax.VarExpr:
		g.copyStack(dst, g.varSlot(e.Key()), size)
		return
	case *syntax.MapExpr:
		g.readMapValue(e, dst, size)
		return
	case *syntax.CondExpr:
		g.branch(e.Cond, "cond", func() { g.textTo(e.Then, dst, t) }, func() { g.textTo(e.Else, dst, t) })
		return
	case *syntax.CallExpr:
		if g.libraryValue(e, dst) {
			return
		}
	}
	g.zero(dst, size)
}

// copyStack copies size bytes (whole words) of stack from src to dst.
func (g *gen) copyStack(dst, src int16, size int) {
	if dst == src {
		return
	}
	for i := 0; i < size; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, src+int16(i), asm.DWord),
			asm.StoreMem(asm.R10, dst+int16(i), asm.R1, asm.DWord),
		)
	}
}

// checkHelper reports, under -k, a helper call that just failed (r0
// negative) with the current statement's position.
func (g *gen) checkHelper(fn asm.BuiltinFunc) {
	id, ok := g.plan.HelperErrorEvent()
	if !ok {
		return
	}
	fine := g.NewLabel("helper_ok")
	g.Emit(asm.JSGE.Imm(asm.R0, 0, fine))
	g.reportHelper(id, fn)
	g.Label(fine)
}

// reportHelper sends the HelperError record of helper fn, whose return
// value is in r0, for the current position.
func (g *gen) reportHelper(id int, fn asm.BuiltinFunc) {
	buf := g.alloc(plan.HelperErrorSize)
	span := int64(uint32(g.Pos.Start)) | int64(uint32(g.Pos.End))<<32
	g.Emit(
		emit.StoreDW(asm.R10, buf, int64(id)),
		emit.StoreDW(asm.R10, buf+plan.HelperErrorHelper, int64(fn)),
		asm.StoreMem(asm.R10, buf+plan.HelperErrorCode, asm.R0, asm.DWord),
		asm.LoadImm(asm.R1, span, asm.DWord),
		asm.StoreMem(asm.R10, buf+plan.HelperErrorSpan, asm.R1, asm.DWord),
		mapPtr(asm.R1, plan.EventsMap),
	)
	g.stackPtr(asm.R2, buf)
	sent := g.NewLabel("sent")
	g.Emit(
		asm.Mov.Imm(asm.R3, plan.HelperErrorSize),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
		asm.JEq.Imm(asm.R0, 0, sent),
	)
	g.countStat(plan.StatLost)
	g.Label(sent)
}
