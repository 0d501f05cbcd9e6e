package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Integer arrays as values: they live in stack slots of whole words, the
// bytes past the array zero, so that a slot compares and hashes (as a map
// key) by the array alone.

// arrayTo writes the bytes of the array e at dst, a slot of t's size.
func (g *gen) arrayTo(e syntax.Expr, dst int16, t types.Type) {
	e = g.valueOf(e)
	slot := types.Align8(t.Size)
	switch x := e.(type) {
	case *syntax.VarExpr:
		g.copyStack(dst, g.varSlot(x.Key()), slot)
		return
	case *syntax.TupleIndex:
		off, _ := g.tupleExpr(x)
		g.copyStack(dst, off, slot)
		return
	case *syntax.MapExpr:
		g.readMapValue(x, dst, slot)
		return
	}
	// The value is computed before dst is cleared: it may read dst, as
	// $a = (uint8[8])((uint64)$a + 1) does.
	if c, ok := e.(*syntax.CastExpr); ok {
		g.intExpr(c.X)
		g.zero(dst, slot)
		g.Emit(asm.StoreMem(asm.R10, dst, asm.R0, sizes[t.Size]))
		return
	}
	space := types.Kernel
	if a, ok := g.in.Args[e]; ok { // a tracepoint field: in the context
		g.Emit(asm.Mov.Reg(asm.R3, asm.R6), asm.Add.Imm(asm.R3, int32(a.Offset)))
	} else {
		g.addr(e)
		space = g.space(e)
		g.Emit(asm.Mov.Reg(asm.R3, asm.R0))
	}
	g.zero(dst, slot)
	g.stackPtr(asm.R1, dst)
	g.Emit(asm.Mov.Imm(asm.R2, int32(t.Size)), emit.ProbeRead(space).Call())
}

// arrayExpr leaves the array e in a stack slot and returns the slot: a
// variable's own, or a new one.
func (g *gen) arrayExpr(e syntax.Expr) int16 {
	if v, ok := e.(*syntax.VarExpr); ok {
		return g.varSlot(v.Key())
	}
	t := g.typeOf(e)
	off := g.alloc(types.Align8(t.Size))
	g.arrayTo(e, off, t)
	return off
}

// indexValue leaves in r0 element e of an array value, extended as its
// type says; an index past the end gives 0.
func (g *gen) indexValue(e *syntax.IndexExpr) {
	arr := g.arrayExpr(e.X)
	at, t := g.typeOf(e.X), g.typeOf(e)
	size := at.Size / at.Len
	g.intExpr(e.Index)
	out, done := g.NewLabel("outside"), g.NewLabel("element")
	// The bound, unsigned, is what lets the verifier allow a read at a
	// variable place of the stack.
	g.Emit(
		asm.JGE.Imm(asm.R0, int32(at.Len), out),
		asm.Mul.Imm(asm.R0, int32(size)),
		asm.Mov.Reg(asm.R1, asm.R10),
		asm.Add.Imm(asm.R1, int32(arr)),
		asm.Add.Reg(asm.R1, asm.R0),
		asm.LoadMem(asm.R0, asm.R1, 0, sizes[size]),
	)
	if t.Signed && size < 8 {
		shift := int32(64 - 8*size)
		g.Emit(asm.LSh.Imm(asm.R0, shift), asm.ArSh.Imm(asm.R0, shift))
	}
	g.Emit(asm.Ja.Label(done))
	g.Label(out)
	g.Emit(asm.Mov.Imm(asm.R0, 0))
	g.Label(done)
}

// arrayInt leaves in r0 the bytes of the array e as an integer of its
// size.
func (g *gen) arrayInt(e syntax.Expr) {
	arr := g.arrayExpr(e)
	g.Emit(asm.LoadMem(asm.R0, asm.R10, arr, sizes[g.typeOf(e).Size]))
}

// arrayCompare sets r0 to whether the arrays of e are equal (==) or not
// (!=), comparing their slots word by word.
func (g *gen) arrayCompare(e *syntax.BinaryExpr) {
	x, y := g.arrayExpr(e.X), g.arrayExpr(e.Y)
	g.compareWords(x, y, types.Align8(g.typeOf(e.X).Size), e.Op)
}
