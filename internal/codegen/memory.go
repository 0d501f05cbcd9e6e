package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/corerelo"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// relocated tags ins with l's relocation, of the given kind, when the
// layout is a kernel type's: load fixes the constant for the target kernel.
func relocated(ins asm.Instruction, l check.Layout, kind corerelo.Kind) asm.Instruction {
	if l.Reloc == nil {
		return ins
	}
	r := *l.Reloc
	r.Kind = kind
	return corerelo.With(ins, &r)
}

// addr leaves in r0 the address of a C value in memory: a struct member,
// an array or pointer element, or what a pointer points to.
func (g *gen) addr(e syntax.Expr) {
	switch e := e.(type) {
	case *syntax.FieldExpr:
		g.base(e.X)
		l := g.in.Layouts[e]
		g.Emit(relocated(asm.Add.Imm(asm.R0, int32(l.Offset)), l, corerelo.ByteOffset))
	case *syntax.IndexExpr:
		g.base(e.X)
		base := g.spill()
		g.intExpr(e.Index)
		g.Emit(
			asm.Mul.Imm(asm.R0, int32(g.in.Layouts[e].Size)),
			asm.LoadMem(asm.R1, asm.R10, base, asm.DWord),
			asm.Add.Reg(asm.R0, asm.R1),
		)
	case *syntax.UnaryExpr: // *p
		g.intExpr(e.X)
	}
}

// base leaves in r0 the address a member or element is found from: a
// pointer's value, or the address of a struct or array in memory.
func (g *gen) base(x syntax.Expr) {
	if g.typeOf(x).Kind == types.Ptr {
		g.intExpr(x)
		return
	}
	g.addr(x)
}

// space is the address space a value in memory is read from: that of
// the pointer, struct or array it is reached through.
func (g *gen) space(e syntax.Expr) types.AddrSpace {
	switch e := e.(type) {
	case *syntax.FieldExpr:
		return g.typeOf(e.X).AddrSpace
	case *syntax.IndexExpr:
		return g.typeOf(e.X).AddrSpace
	case *syntax.UnaryExpr:
		return g.typeOf(e.X).AddrSpace
	}
	return types.Kernel
}

// loadMemory reads the integer or pointer e names in memory into r0,
// extending it as its type says; a bitfield is shifted out of the bytes
// that hold it. A read that faults leaves 0.
func (g *gen) loadMemory(e syntax.Expr) {
	t := g.typeOf(e)
	l := g.in.Layouts[e]
	size := l.Size
	if size == 0 || size > 8 {
		size = t.Size
	}
	tmp := g.alloc(8)
	g.addr(e)
	g.Emit(emit.StoreDW(asm.R10, tmp, 0), asm.Mov.Reg(asm.R3, asm.R0))
	g.stackPtr(asm.R1, tmp)
	g.Emit(
		relocated(asm.Mov.Imm(asm.R2, int32(size)), l, corerelo.ByteSize),
		emit.ProbeRead(g.space(e)).Call(),
		asm.LoadMem(asm.R0, asm.R10, tmp, asm.DWord),
	)
	switch {
	case l.RShift > 0:
		g.Emit(relocated(asm.LSh.Imm(asm.R0, int32(l.LShift)), l, corerelo.LShift))
		shift := asm.RSh.Imm(asm.R0, int32(l.RShift))
		if t.Signed {
			shift = asm.ArSh.Imm(asm.R0, int32(l.RShift))
		}
		g.Emit(relocated(shift, l, corerelo.RShift))
	case t.Signed && t.Size < 8:
		shift := int32(64 - 8*t.Size)
		g.Emit(asm.LSh.Imm(asm.R0, shift), asm.ArSh.Imm(asm.R0, shift))
	}
}

// memoryString reads a char array in memory into a new string buffer.
func (g *gen) memoryString(e syntax.Expr, size int) (int16, int) {
	off := g.alloc(size)
	g.addr(e)
	g.readStrAt(off, size, g.typeOf(e).Size, g.space(e))
	return off, size
}

// cast converts r0, or the bytes of an array, to the integer type t:
// truncated and extended as C converts, or 0 and 1 for bool.
func (g *gen) cast(e *syntax.CastExpr) {
	if g.typeOf(e.X).Kind == types.Array {
		g.arrayInt(e.X)
	} else {
		g.intExpr(e.X)
	}
	t := g.typeOf(e)
	switch {
	case t.Kind == types.Bool:
		g.truth(asm.JNE)
	case t.Kind != types.Int || t.Size == 8:
	case t.Signed:
		shift := int32(64 - 8*t.Size)
		g.Emit(asm.LSh.Imm(asm.R0, shift), asm.ArSh.Imm(asm.R0, shift))
	case t.Size == 4:
		g.Emit(asm.Mov.Reg32(asm.R0, asm.R0))
	default:
		g.Emit(asm.And.Imm(asm.R0, int32(1)<<(8*t.Size)-1))
	}
}

// constant loads sizeof or offsetof, relocated for kernel types.
func (g *gen) constant(e syntax.Expr) {
	l := g.in.Layouts[e]
	kind := corerelo.ByteOffset
	if _, ok := e.(*syntax.SizeofExpr); ok {
		kind = corerelo.TypeSize
	}
	g.Emit(relocated(asm.LoadImm(asm.R0, int64(l.Offset), asm.DWord), l, kind))
}
