package codegen

import (
	"encoding/binary"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// String functions. Strings are canonical buffers in the frame (zero from
// the first NUL on), so each function is a fixed, unrolled walk over bytes:
// the cost is known when the program is generated, and every jump goes
// forward.

// bufTo writes a buffer into a record part of type t at dst: its length,
// then its bytes, zero-padded to the part's size.
func (g *gen) bufTo(e syntax.Expr, dst int16, t types.Type) {
	e = g.valueOf(e)
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
// array at a time until a NULL pointer, an unreadable one, an empty
// string (where bpftrace stops too), or check.JoinArgs elements. r7 holds
// the record across helper calls.
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
		emit.StoreDW(asm.R7, 0, int64(id)),
		emit.StoreDW(asm.R7, count, 0),
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
			asm.JSLE.Imm(asm.R0, 1, submit),
			emit.StoreDW(asm.R7, count, int64(i+1)),
		)
	}
	g.Label(submit)
	g.Emit(asm.Mov.Reg(asm.R1, asm.R7), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufSubmit.Call())
	g.Label(joined)
}

// copyStr copies the string at src (a buffer for srcSize bytes) into the
// buffer at dst (dstSize bytes). Buffers occupy whole 8-byte words and are
// canonical: zero from the first NUL to the end. A longer source is
// truncated to dstSize-1 characters, keeping the destination canonical.
func (g *gen) copyStr(dst int16, dstSize int, src int16, srcSize int) {
	if dst == src {
		return
	}
	words, srcWords := types.Align8(dstSize), types.Align8(srcSize)
	n := min(words, srcWords)
	for i := 0; i < n; i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, src+int16(i), asm.DWord),
			asm.StoreMem(asm.R10, dst+int16(i), asm.R1, asm.DWord),
		)
	}
	if n < words {
		g.zero(dst+int16(n), words-n)
	}
	if srcSize > dstSize {
		for i := dstSize - 1; i < words; i++ {
			g.Emit(asm.StoreImm(asm.R10, dst+int16(i), 0, asm.Byte))
		}
	}
}

// storeConst writes the bytes of s, NUL-padded to size, at off.
func (g *gen) storeConst(off int16, s string, size int) {
	buf := make([]byte, types.Align8(size))
	copy(buf, s)
	for i := 0; i < len(buf); i += 8 {
		v := binary.LittleEndian.Uint64(buf[i:])
		if v == 0 {
			g.Emit(emit.StoreDW(asm.R10, off+int16(i), 0))
			continue
		}
		g.Emit(
			asm.LoadImm(asm.R1, int64(v), asm.DWord),
			asm.StoreMem(asm.R10, off+int16(i), asm.R1, asm.DWord),
		)
	}
}

// strCompare compares two strings a word at a time. Buffers are canonical
// (zero after the first NUL, which every buffer holds), so two strings are
// equal exactly when the words of the shorter buffer and the same words of
// the longer one are: one branch per 8 bytes keeps long comparisons within
// the verifier's limits on branches.
func (g *gen) strCompare(e *syntax.BinaryExpr) {
	a, an := g.strExpr(e.X)
	b, bn := g.strExpr(e.Y)
	g.compareWords(a, b, min(an, bn), e.Op)
}

// compareWords sets r0 to whether the n bytes (whole words) at frame
// offsets a and b are equal (op ==) or differ (op !=): one branch per
// word.
func (g *gen) compareWords(a, b int16, n int, op string) {
	differ, end := g.NewLabel("differ"), g.NewLabel("compared")
	for i := int16(0); i < int16(n); i += 8 {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, a+i, asm.DWord),
			asm.LoadMem(asm.R2, asm.R10, b+i, asm.DWord),
			asm.JNE.Reg(asm.R1, asm.R2, differ),
		)
	}
	eq, ne := int32(1), int32(0)
	if op == "!=" {
		eq, ne = 0, 1
	}
	g.Emit(asm.Mov.Imm(asm.R0, eq), asm.Ja.Label(end))
	g.Label(differ)
	g.Emit(asm.Mov.Imm(asm.R0, ne))
	g.Label(end)
}

// strExpr evaluates a string expression into a stack buffer and returns
// its offset and size.
func (g *gen) strExpr(e syntax.Expr) (int16, int) {
	e = g.valueOf(e)
	t := g.typeOf(e)
	size := types.Align8(t.Size)
	switch e := e.(type) {
	case *syntax.StringLit:
		off := g.alloc(size)
		g.storeConst(off, e.Value, size)
		return off, size
	case *syntax.Ident:
		off := g.alloc(size)
		if a, ok := g.in.Args[e]; ok {
			g.storeConst(off, a.Text, size)
			return off, size
		}
		if e.Name == "probe" {
			g.storeConst(off, g.in.Instance.Name(), size)
			return off, size
		}
		g.comm(off, size)
		return off, size
	case *syntax.VarExpr:
		return g.varSlot(e.Key()), size
	case *syntax.ParamExpr:
		off := g.alloc(size)
		g.storeConst(off, g.info.Param(e.N)[:t.Size-1], size)
		return off, size
	case *syntax.MapExpr:
		off := g.alloc(size)
		g.readMapValue(e, off, size)
		return off, size
	case *syntax.FieldExpr:
		if check.InMemory(e, g.in) {
			return g.memoryString(e, size)
		}
		return g.strArg(g.in.Args[e], size)
	case *syntax.IndexExpr:
		return g.memoryString(e, size)
	case *syntax.TupleIndex:
		off, _ := g.tupleExpr(e)
		return off, size
	case *syntax.CallExpr:
		if e.Fun != "str" {
			off := g.alloc(size)
			g.libraryValue(e, off)
			return off, size
		}
		arg := e.Args[0]
		if at := g.typeOf(arg); at.Kind == types.Str {
			src, n := g.strExpr(arg)
			if t.Size >= at.Size {
				return src, n
			}
			off := g.alloc(size)
			g.copyStr(off, t.Size, src, at.Size)
			return off, size
		}
		off := g.alloc(size)
		g.readStr(arg, off, size, t.Size)
		return off, size
	case *syntax.CondExpr:
		off := g.alloc(size)
		arm := func(x syntax.Expr) func() {
			return func() {
				src, n := g.strExpr(x)
				g.copyStr(off, size, src, n)
			}
		}
		g.branch(e.Cond, "cond", arm(e.Then), arm(e.Else))
		return off, size
	}
	off := g.alloc(size)
	g.zero(off, size)
	return off, size
}

// strTo evaluates a string expression into the buffer at dst (dstSize
// bytes). Strings that come from a helper or a constant are written there
// directly; others are built in their own buffer and copied.
func (g *gen) strTo(e syntax.Expr, dst int16, dstSize int) {
	e = g.valueOf(e)
	t := g.typeOf(e)
	switch e := e.(type) {
	case *syntax.StringLit:
		if t.Size <= dstSize {
			g.storeConst(dst, e.Value, dstSize)
			return
		}
	case *syntax.Ident:
		if e.Name == "comm" && t.Size <= dstSize {
			g.comm(dst, dstSize)
			return
		}
	case *syntax.CallExpr:
		if e.Fun == "str" && g.typeOf(e.Args[0]).Kind == types.Ptr && t.Size <= dstSize {
			g.readStr(e.Args[0], dst, dstSize, t.Size)
			return
		}
	}
	src, size := g.strExpr(e)
	g.copyStr(dst, dstSize, src, size)
}

// readStr reads at most n bytes of the NUL-terminated string that the
// pointer expression ptr points to into the zeroed buffer at dst (size
// bytes), with the probe-read helper of ptr's address space.
func (g *gen) readStr(ptr syntax.Expr, dst int16, size, n int) {
	g.intExpr(ptr)
	if t := g.typeOf(ptr); t.Kind == types.Ptr {
		g.readStrAt(dst, size, n, t.AddrSpace)
		return
	}
	// An integer says nothing of its address space: kernel memory is
	// tried first, then, where that read fails (an address below the
	// kernel's, which it refuses), user memory.
	addr := g.spill()
	g.readStrWith(dst, size, n, asm.FnProbeReadKernelStr)
	read := g.NewLabel("str_read")
	g.Emit(asm.JSGE.Imm(asm.R0, 0, read), asm.LoadMem(asm.R0, asm.R10, addr, asm.DWord))
	g.readStrAt(dst, size, n, types.User)
	g.Label(read)
}

// readStrAt reads at most n bytes of the NUL-terminated string at the
// address in r0, in space, into the zeroed buffer at dst (size bytes).
func (g *gen) readStrAt(dst int16, size, n int, space types.AddrSpace) {
	fn := asm.FnProbeReadKernelStr
	if space == types.User {
		fn = asm.FnProbeReadUserStr
	}
	g.readStrWith(dst, size, n, fn)
	g.checkHelper(fn)
}

// readStrWith reads the string at the address in r0 with helper fn,
// leaving its result in r0.
func (g *gen) readStrWith(dst int16, size, n int, fn asm.BuiltinFunc) {
	g.Emit(asm.Mov.Reg(asm.R3, asm.R0))
	g.zero(dst, types.Align8(size))
	g.stackPtr(asm.R1, dst)
	g.Emit(asm.Mov.Imm(asm.R2, int32(n)), fn.Call())
}

// comm writes the current task's name, 16 bytes zero-padded by the kernel,
// into the buffer at dst (size bytes, at least 16).
func (g *gen) comm(dst int16, size int) {
	if size > 16 {
		g.zero(dst+16, types.Align8(size)-16)
	}
	if g.opts.TaskComm == 0 {
		g.zero(dst, 16)
		g.stackPtr(asm.R1, dst)
		g.Emit(asm.Mov.Imm(asm.R2, 16), asm.FnGetCurrentComm.Call())
		return
	}
	off := int16(g.opts.TaskComm)
	g.Emit(
		asm.FnGetCurrentTaskBtf.Call(),
		asm.LoadMem(asm.R1, asm.R0, off, asm.DWord),
		asm.StoreMem(asm.R10, dst, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.R0, off+8, asm.DWord),
		asm.StoreMem(asm.R10, dst+8, asm.R1, asm.DWord),
	)
}

// strArg reads a string argument: an inline char array or a __data_loc.
func (g *gen) strArg(a probe.Arg, size int) (int16, int) {
	off := g.alloc(size)
	g.zero(off, size)
	if a.DataLoc {
		// u32 at Offset: length << 16 | offset from the context start.
		g.Emit(
			asm.LoadMem(asm.R3, asm.R6, int16(a.Offset), asm.Word),
			asm.And.Imm(asm.R3, 0xffff),
			asm.Add.Reg(asm.R3, asm.R6),
		)
		if a.RelLoc {
			g.Emit(asm.Add.Imm(asm.R3, int32(a.Offset+4)))
		}
	} else {
		g.Emit(asm.Mov.Reg(asm.R3, asm.R6), asm.Add.Imm(asm.R3, int32(a.Offset)))
	}
	// The _str read stops at the NUL (an inline array may have bytes
	// after it), keeping the buffer canonical for comparisons.
	g.stackPtr(asm.R1, off)
	g.Emit(asm.Mov.Imm(asm.R2, int32(a.Type.Size)), asm.FnProbeReadKernelStr.Call())
	return off, size
}
