package check

import (
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Integer arrays as values: cast from and to integers of their size,
// held in variables and maps, indexed, compared and printed. An array in
// memory (a struct's member) is copied when it is used so.

// elemInt returns the integer type of an array's elements, ok false when
// they are not integers.
func (c *checker) elemInt(t types.Type) (types.Type, bool) {
	typ, err := c.types.Lookup(t.Elem)
	if err != nil {
		return types.None, false
	}
	et, ok := c.types.ScriptType(typ, types.Kernel)
	return et, ok && et.Kind == types.Int
}

// arrayValue returns the type an integer array takes as a value, in a
// variable, a map or a record: the same wherever it was read from. ok is
// false, and an error reported at the node at, for other arrays.
func (c *checker) arrayValue(t types.Type, at syntax.Node) (types.Type, bool) {
	if _, ok := c.elemInt(t); !ok {
		c.errorf(at.Span(), "type", "%s can be read only element by element: only arrays of integers are values", t).
			Hint("index it, a[0], or keep a pointer to it")
		return types.None, false
	}
	t.AddrSpace = types.Kernel
	return t, true
}

// arrayCast types `(T[N])X`: the bytes of integer X as an array of N
// integers T. Both have the same size; a literal fits any size that holds
// its value, and without N the array takes X's size.
func (c *checker) arrayCast(e *syntax.CastExpr, x types.Type, typ btf.Type) types.Type {
	elem, ok := c.types.ScriptType(typ, types.Kernel)
	if e.Type.Ptr > 0 || !ok || elem.Kind != types.Int {
		c.errorf(e.Type.Sp, "type", "cannot cast to %s: an array cast's elements are integers", e.Type).
			Hint("for example (uint8[8])x")
		return types.None
	}
	if !x.IsInt() {
		if x.Kind != types.Void {
			c.errorf(e.X.Span(), "type", "cannot cast %s to %s: only an integer casts to an array", x, e.Type).
				Hint("an array casts to an integer of its size: (uint64)a")
		}
		return types.None
	}
	size, fits := x.Size, true
	if v, neg, lit := literalValue(e.X); lit && e.Type.Len > 0 {
		size = e.Type.Len * elem.Size
		fits = size == 8 || !neg && v < 1<<(8*size) || neg && v <= 1<<(8*size-1)
	}
	n := e.Type.Len
	if n == 0 {
		n = size / elem.Size
	}
	switch n * elem.Size {
	case 1, 2, 4, 8:
	default:
		if e.Type.Len > 0 {
			c.errorf(e.Type.Sp, "type", "cannot cast an integer to %s (%d bytes): an integer has 1, 2, 4 or 8 bytes", e.Type, n*elem.Size)
			return types.None
		}
	}
	if !fits {
		c.errorf(e.X.Span(), "type", "%s does not fit in %s (%d bytes)", c.text(e.X), e.Type, size)
		return types.None
	}
	if n == 0 || n*elem.Size != size {
		var d *source.Diagnostic
		if e.Type.Len == 0 {
			d = c.errorf(e.Sp, "type", "cannot cast %s (%d bytes) to an array of %s (%d bytes each)", c.text(e.X), size, e.Type.Name, elem.Size)
		} else {
			d = c.errorf(e.Sp, "type", "cannot cast %s (%d bytes) to %s (%d bytes): the sizes must match", c.text(e.X), size, e.Type, n*elem.Size)
		}
		switch n * elem.Size {
		case 1, 2, 4, 8:
			d.Hint("cast the value to an integer of the array's size first: (%s)(uint%d)x", e.Type, 8*n*elem.Size)
		default:
			d.Hint("an integer has 1, 2, 4 or 8 bytes")
		}
		return types.None
	}
	t := types.ArrayOf(e.Type.Name, n, n*elem.Size, types.Kernel)
	t.Signed = elem.Signed
	return t
}

// literalValue returns the magnitude of an integer literal, negated or
// not.
func literalValue(e syntax.Expr) (v uint64, neg, ok bool) {
	if u, isUnary := e.(*syntax.UnaryExpr); isUnary && u.Op == "-" {
		lit, isLit := u.X.(*syntax.IntLit)
		if !isLit {
			return 0, false, false
		}
		return lit.Value, true, true
	}
	lit, isLit := e.(*syntax.IntLit)
	if !isLit {
		return 0, false, false
	}
	return lit.Value, false, true
}

// castFromArray types `(T)A`: the bytes of integer array A as the integer
// T of the same size.
func (c *checker) castFromArray(e *syntax.CastExpr, x types.Type, typ btf.Type) types.Type {
	t, ok := c.types.ScriptType(typ, types.Kernel)
	if e.Type.Ptr > 0 || !ok || t.Kind != types.Int {
		c.errorf(e.Type.Sp, "type", "cannot cast %s to %s: an array casts only to an integer of its size", x, e.Type).
			Hint("cast it to uint%d", 8*x.Size)
		return types.None
	}
	if _, ok := c.arrayValue(x, e.X); !ok {
		return types.None
	}
	if x.Size != t.Size {
		c.errorf(e.Sp, "type", "cannot cast %s (%d bytes) to %s (%d bytes): the sizes must match", x, x.Size, t, t.Size).
			Hint("an array casts only to an integer of its size")
		return types.None
	}
	return t
}

// indexBounds reports a constant index outside an array value.
func (c *checker) indexBounds(e *syntax.IndexExpr, x types.Type) {
	if v, neg, lit := literalValue(e.Index); lit && (neg || v >= uint64(x.Len)) {
		c.errorf(e.Index.Span(), "type", "index %s is out of range: %s has %d elements", c.text(e.Index), x, x.Len)
	}
}

// arrayCompare checks `A == B` on arrays: integer arrays of one size,
// compared byte by byte.
func (c *checker) arrayCompare(e *syntax.BinaryExpr, a, b types.Type) {
	_, okA := c.arrayValue(a, e.X)
	_, okB := c.arrayValue(b, e.Y)
	if okA && okB && a.Size != b.Size {
		c.errorf(e.OpSp, "type", "cannot compare %s with %s: arrays compare only at the same size", a, b)
	}
}
