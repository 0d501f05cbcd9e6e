package codegen

import (
	"strings"

	"github.com/cilium/ebpf/asm"

	"ebtrace/check"
	"ebtrace/plan"
	"ebtrace/syntax"
	"ebtrace/types"
)

// String functions. Strings are canonical buffers in the frame (zero from
// the first NUL on), so each function is a fixed, unrolled walk over bytes:
// the cost is known when the program is generated, and every jump goes
// forward.

// stringCall compiles the string functions that leave an integer in r0
// (strftime's is the time, which user space formats) or, for join, send
// an event.
func (g *gen) stringCall(e *syntax.CallExpr) {
	switch e.Fun {
	case "strlen":
		off, _ := g.strExpr(e.Args[0])
		g.strlen(off, g.typeOf(e.Args[0]).Size)
	case "strncmp":
		g.strncmp(e)
	case "strcontains":
		g.strcontains(e)
	case "strftime":
		g.intExpr(e.Args[1])
	case "join":
		g.join(e)
	}
}

// strlen leaves in r0 the length of the string in the buffer at off.
func (g *gen) strlen(off int16, size int) {
	done := g.newLabel("strlen")
	g.emit(asm.Mov.Imm(asm.R0, 0))
	for i := 0; i < size; i++ {
		g.emit(
			asm.LoadMem(asm.R1, asm.R10, off+int16(i), asm.Byte),
			asm.JEq.Imm(asm.R1, 0, done),
			asm.Add.Imm(asm.R0, 1),
		)
	}
	g.label(done)
}

// loadByte loads byte i of the buffer at off (size bytes) into reg; past
// the buffer a canonical string holds zeros.
func (g *gen) loadByte(reg asm.Register, off int16, size, i int) {
	if i >= size {
		g.emit(asm.Mov.Imm(reg, 0))
		return
	}
	g.emit(asm.LoadMem(reg, asm.R10, off+int16(i), asm.Byte))
}

// strncmp leaves 0 in r0 when the first n bytes of two strings match (up
// to a NUL both share), else 1.
func (g *gen) strncmp(e *syntax.CallExpr) {
	a, an := g.strExpr(e.Args[0])
	b, bn := g.strExpr(e.Args[1])
	n := min(int(e.Args[2].(*syntax.IntLit).Value), max(an, bn))
	same, differ, end := g.newLabel("same"), g.newLabel("differ"), g.newLabel("strncmp")
	for i := 0; i < n; i++ {
		g.loadByte(asm.R1, a, an, i)
		g.loadByte(asm.R2, b, bn, i)
		g.emit(asm.JNE.Reg(asm.R1, asm.R2, differ), asm.JEq.Imm(asm.R1, 0, same))
	}
	g.label(same)
	g.emit(asm.Mov.Imm(asm.R0, 0), asm.Ja.Label(end))
	g.label(differ)
	g.emit(asm.Mov.Imm(asm.R0, 1))
	g.label(end)
}

// strcontains leaves 1 in r0 when the needle occurs in the haystack, else
// 0, trying each start position in turn. A literal needle is compared
// byte by byte against immediates.
func (g *gen) strcontains(e *syntax.CallExpr) {
	// The buffers' sizes from their types, not their whole words: a
	// canonical string's NUL lies within them.
	h, _ := g.strExpr(e.Args[0])
	hn := g.typeOf(e.Args[0]).Size
	found, missing, end := g.newLabel("found"), g.newLabel("missing"), g.newLabel("strcontains")
	if lit, ok := e.Args[1].(*syntax.StringLit); ok {
		needle := lit.Value
		if i := strings.IndexByte(needle, 0); i >= 0 {
			needle = needle[:i]
		}
		for i := 0; i < hn && len(needle) > 0; i++ {
			next := g.newLabel("next")
			for j := 0; j < len(needle); j++ {
				if i+j >= hn {
					g.emit(asm.Ja.Label(missing))
					break
				}
				g.emit(asm.LoadMem(asm.R1, asm.R10, h+int16(i+j), asm.Byte))
				if j == 0 {
					g.emit(asm.JEq.Imm(asm.R1, 0, missing))
				}
				g.emit(asm.JNE.Imm(asm.R1, int32(needle[j]), next))
			}
			g.emit(asm.Ja.Label(found))
			g.label(next)
		}
		if len(needle) > 0 {
			g.emit(asm.Ja.Label(missing))
		}
	} else {
		n, _ := g.strExpr(e.Args[1])
		nn := g.typeOf(e.Args[1]).Size
		for i := 0; i < hn; i++ {
			next := g.newLabel("next")
			for j := 0; j < nn; j++ {
				g.emit(asm.LoadMem(asm.R2, asm.R10, n+int16(j), asm.Byte), asm.JEq.Imm(asm.R2, 0, found))
				if i+j >= hn {
					g.emit(asm.Ja.Label(missing))
					break
				}
				g.emit(asm.LoadMem(asm.R1, asm.R10, h+int16(i+j), asm.Byte))
				if j == 0 {
					g.emit(asm.JEq.Imm(asm.R1, 0, missing))
				}
				g.emit(asm.JNE.Reg(asm.R1, asm.R2, next))
			}
			g.emit(asm.Ja.Label(found))
			g.label(next)
		}
		g.emit(asm.Ja.Label(missing))
	}
	g.label(found)
	g.emit(asm.Mov.Imm(asm.R0, 1), asm.Ja.Label(end))
	g.label(missing)
	g.emit(asm.Mov.Imm(asm.R0, 0))
	g.label(end)
}

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
		done := g.newLabel("read")
		g.emit(asm.JEq.Imm(asm.R0, 0, done))
		for i := 0; i < min(8+words, m.ValueSize); i += 8 {
			g.emit(
				asm.LoadMem(asm.R1, asm.R0, int16(i), asm.DWord),
				asm.StoreMem(asm.R10, dst+int16(i), asm.R1, asm.DWord),
			)
		}
		g.label(done)
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
			g.strlen(off, st.Size)
			g.emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
			return
		}
		g.bufLength(e.Args[1], min(capacity, types.Align8(size)))
		g.emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
		return
	}
	g.zero(dst+8, words)
	g.intExpr(src)
	ptr := g.spill()
	g.bufLength(e.Args[1], capacity)
	g.emit(asm.StoreMem(asm.R10, dst, asm.R0, asm.DWord))
	g.stackPtr(asm.R1, dst+8)
	g.emit(
		asm.Mov.Reg(asm.R2, asm.R0),
		asm.LoadMem(asm.R3, asm.R10, ptr, asm.DWord),
	)
	if g.typeOf(src).AddrSpace == types.User {
		g.emit(asm.FnProbeReadUser.Call())
	} else {
		g.emit(asm.FnProbeReadKernel.Call())
	}
}

// bufLength leaves buf()'s length in r0, at most limit.
func (g *gen) bufLength(n syntax.Expr, limit int) {
	if lit, ok := n.(*syntax.IntLit); ok {
		g.emit(asm.Mov.Imm(asm.R0, int32(min(int(lit.Value), limit))))
		return
	}
	g.intExpr(n)
	ok := g.newLabel("len")
	g.emit(asm.JLE.Imm(asm.R0, int32(limit), ok), asm.Mov.Imm(asm.R0, int32(limit)))
	g.label(ok)
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
	reserved, submit, joined := g.newLabel("reserved"), g.newLabel("submit"), g.newLabel("joined")
	g.emit(
		mapPtr(asm.R1, plan.EventsMap),
		asm.Mov.Imm(asm.R2, int32(ev.Size)),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JNE.Imm(asm.R0, 0, reserved),
	)
	g.countStat(plan.StatLost)
	g.emit(asm.Ja.Label(joined))
	g.label(reserved)
	count := int16(ev.Args[0].Offset)
	g.emit(
		asm.Mov.Reg(asm.R7, asm.R0),
		stDW(asm.R7, 0, int64(id)),
		stDW(asm.R7, count, 0),
	)
	for i := 0; i < check.JoinArgs; i++ {
		slot := ev.Args[1+i]
		g.stackPtr(asm.R1, elem)
		g.emit(
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
	g.label(submit)
	g.emit(asm.Mov.Reg(asm.R1, asm.R7), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufSubmit.Call())
	g.label(joined)
}
