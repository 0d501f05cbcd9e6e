package codegen

import (
	"github.com/cilium/ebpf/asm"

	"ebtrace/check"
	"ebtrace/funcs"
	"ebtrace/plan"
	"ebtrace/syntax"
	"ebtrace/types"
)

// String functions. Strings are canonical buffers in the frame (zero from
// the first NUL on), so each function is a fixed, unrolled walk over bytes:
// the cost is known when the program is generated, and every jump goes
// forward.

// bufTo writes a buffer into a record part of type t at dst: its length,
// then its bytes, zero-padded to the part's size.
func (g *gen) bufTo(e syntax.Expr, dst int16, t types.Type) {
	words := types.Align8(t.Size)
	switch e := e.(type) {
	case *syntax.CallExpr: // buf()
		g.bufCall(e, dst, t)
	case *syntax.MapExpr:
		m := g.plan.Map(e.Name)
		key := g.key(e, m)
		g.zero(dst, 8+words)
		g.lookup(m, key)
		done := g.NewLabel("read")
		g.Emit(asm.JEq.Imm(asm.R0, 0, done))
		for i := 0; i < min(8+words, m.ValueSize); i += 8 {
			g.Emit(
				asm.LoadMem(asm.R1, asm.R0, int16(i), asm.DWord),
				asm.StoreMem(asm.R10, dst+int16(i), asm.R1, asm.DWord),
			)
		}
		g.Label(done)
	}
}

// bufCall compiles buf(src [, n]) into the part at dst: the bytes of a
// string, or n bytes read at a pointer with its address space's helper.
// A length known only at run time is clamped to the buffer, which also
// tells the verifier its bounds.
func (g *gen) bufCall(e *syntax.CallExpr, dst int16, t types.Type) {
	capacity := min(g.typeOf(e).Size, t.Size)
	words := types.Align8(t.Size)
	src := e.Args[0]
	if st := g.typeOf(src); st.Kind == types.Str {
		off, size := g.strExpr(src)
		g.copyStr(dst+8, words, off, size)
		if len(e.Args) == 1 {
			funcs.EmitStrlen(funcGen{g}, off, st.Size)
			g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
			return
		}
		g.bufLength(e.Args[1], min(capacity, types.Align8(size)))
		g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
		return
	}
	g.zero(dst+8, words)
	g.intExpr(src)
	ptr := g.spill()
	g.bufLength(e.Args[1], capacity)
	g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
	g.stackPtr(asm.R1, dst+8)
	g.Emit(
		asm.Mov.Reg(asm.R2, asm.R0),
		asm.LoadMem(asm.R3, asm.R10, ptr, asm.DWord),
	)
	if g.typeOf(src).AddrSpace == types.User {
		g.Emit(asm.FnProbeReadUser.Call())
	} else {
		g.Emit(asm.FnProbeReadKernel.Call())
	}
}

// bufLength leaves buf()'s length in r0, at most limit.
func (g *gen) bufLength(n syntax.Expr, limit int) {
	if lit, ok := n.(*syntax.IntLit); ok {
		g.Emit(asm.Mov.Imm(asm.R0, int32(min(int(lit.Value), limit))))
		return
	}
	g.intExpr(n)
	ok := g.NewLabel("len")
	g.Emit(asm.JLE.Imm(asm.R0, int32(limit), ok), asm.Mov.Imm(asm.R0, int32(limit)))
	g.Label(ok)
}

// join sends join()'s event: the record is reserved in the ring buffer
// and filled in place (it is larger than the stack), one element of the
// array at a time until a NULL pointer, an unreadable one, or
// check.JoinArgs elements. r7 holds the record across helper calls.
func (g *gen) join(e *syntax.CallExpr) {
	id, ok := g.plan.Sites[plan.Site{Instance: g.idx, Call: e}]
	if !ok {
		return
	}
	ev := g.plan.Events[id]
	readPtr, readStr := asm.FnProbeReadKernel, asm.FnProbeReadKernelStr
	if g.typeOf(e.Args[0]).AddrSpace == types.User {
		readPtr, readStr = asm.FnProbeReadUser, asm.FnProbeReadUserStr
	}
	g.intExpr(e.Args[0])
	argv := g.spill()
	elem := g.alloc(8)
	reserved, submit, joined := g.NewLabel("reserved"), g.NewLabel("submit"), g.NewLabel("joined")
	g.Emit(
		mapPtr(asm.R1, plan.EventsMap),
		asm.Mov.Imm(asm.R2, int32(ev.Size)),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JNE.Imm(asm.R0, 0, reserved),
	)
	g.countStat(plan.StatLost)
	g.Emit(asm.Ja.Label(joined))
	g.Label(reserved)
	count := int16(ev.Args[0].Offset)
	g.Emit(
		asm.Mov.Reg(asm.R7, asm.R0),
		stDW(asm.R7, 0, int64(id)),
		stDW(asm.R7, count, 0),
	)
	for i := 0; i < check.JoinArgs; i++ {
		slot := ev.Args[1+i]
		g.stackPtr(asm.R1, elem)
		g.Emit(
			asm.Mov.Imm(asm.R2, 8),
			asm.LoadMem(asm.R3, asm.R10, argv, asm.DWord),
			asm.Add.Imm(asm.R3, int32(8*i)),
			readPtr.Call(),
			asm.JNE.Imm(asm.R0, 0, submit),
			asm.LoadMem(asm.R3, asm.R10, elem, asm.DWord),
			asm.JEq.Imm(asm.R3, 0, submit),
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.Add.Imm(asm.R1, int32(slot.Offset)),
			asm.Mov.Imm(asm.R2, int32(slot.Type.Size)),
			readStr.Call(),
			stDW(asm.R7, count, int64(i+1)),
		)
	}
	g.Label(submit)
	g.Emit(asm.Mov.Reg(asm.R1, asm.R7), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufSubmit.Call())
	g.Label(joined)
}
