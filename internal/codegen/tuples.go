package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// tupleTo writes the tuple e into dst laid out as t, which has e's shape
// with strings at least as long.
func (g *gen) tupleTo(e syntax.Expr, dst int16, t types.Type) {
	e = g.valueOf(e)
	fields := t.Fields()
	if tuple, ok := e.(*syntax.TupleExpr); ok {
		for i, x := range tuple.Elems {
			g.valueTo(x, dst+int16(t.FieldOffset(i)), fields[i])
		}
		return
	}
	src, st := g.tupleExpr(e)
	g.convertTuple(dst, t, src, st)
}

// convertTuple copies the tuple at src, laid out as st, to dst laid out
// as t: element by element, strings padded or truncated.
func (g *gen) convertTuple(dst int16, t types.Type, src int16, st types.Type) {
	if dst == src && t == st {
		return
	}
	sf := st.Fields()
	for i, f := range t.Fields() {
		d, s := dst+int16(t.FieldOffset(i)), src+int16(st.FieldOffset(i))
		switch f.Kind {
		case types.Str:
			g.copyStr(d, f.Size, s, sf[i].Size)
		case types.Tuple:
			g.convertTuple(d, f, s, sf[i])
		default:
			g.Emit(
				asm.LoadMem(asm.R1, asm.R10, s, asm.DWord),
				asm.StoreMem(asm.R10, d, asm.R1, asm.DWord),
			)
		}
	}
}

// tupleExpr evaluates a tuple expression into a stack buffer and returns
// its offset and layout.
func (g *gen) tupleExpr(e syntax.Expr) (int16, types.Type) {
	e = g.valueOf(e)
	t := g.typeOf(e)
	switch e := e.(type) {
	case *syntax.VarExpr:
		return g.varSlot(e.Key()), g.in.Vars[e.Key()]
	case *syntax.TupleIndex:
		off, outer := g.tupleExpr(e.X)
		return off + int16(outer.FieldOffset(e.Index)), outer.Fields()[e.Index]
	case *syntax.MapExpr:
		m := g.plan.Map(e.Name)
		off := g.alloc(m.ValueSize)
		g.readMapValue(e, off, m.ValueSize)
		return off, m.ValueType
	}
	off := g.alloc(t.Size)
	g.tupleTo(e, off, t)
	return off, t
}

// indexInt leaves the integer element e of a tuple in r0.
func (g *gen) indexInt(e *syntax.TupleIndex) {
	off, _ := g.tupleExpr(e)
	g.Emit(asm.LoadMem(asm.R0, asm.R10, off, asm.DWord))
}

// assignTuple compiles `$var = tuple`. The tuple is built aside first:
// its elements may read the variable, as in $t = ($t.1, $t.0).
func (g *gen) assignTuple(value syntax.Expr, slot int16, t types.Type) {
	if _, ok := value.(*syntax.TupleExpr); !ok {
		g.tupleTo(value, slot, t)
		return
	}
	tmp := g.alloc(t.Size)
	g.tupleTo(value, tmp, t)
	g.copyStack(slot, tmp, t.Size)
}

// keyTuple writes a map's single tuple subscript as the map's key parts,
// which have the tuple's layout.
func (g *gen) keyTuple(e syntax.Expr, off int16, m *plan.Map) {
	parts := make([]types.Type, len(m.Keys))
	for i, p := range m.Keys {
		parts[i] = p.Type
	}
	g.tupleTo(e, off, types.TupleOf(parts...))
}

// printValue sends print(x)'s value to user space.
func (g *gen) printValue(e *syntax.CallExpr) {
	g.event(e, func(ev *plan.Event, buf int16) {
		g.valueTo(e.Args[0], buf+int16(ev.Args[0].Offset), ev.Args[0].Type)
	}, true)
}
