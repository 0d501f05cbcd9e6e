package types

import "testing"

// Tuple types compare with == by their elements, widen integers to 64
// bits, and lay elements out in 8-byte slots.
func TestTupleOf(t *testing.T) {
	a := TupleOf(IntOf(4, false), String(3))
	b := TupleOf(Int64, String(3))
	if a != b {
		t.Errorf("%v != %v", a, b)
	}
	if c := TupleOf(Int64, String(4)); a == c {
		t.Errorf("%v == %v", a, c)
	}
	if got := a.String(); got != "(int64, string[3])" {
		t.Errorf("String() = %q", got)
	}
	nested := TupleOf(String(9), a, UInt64)
	if nested.Size != 16+16+8 || nested.FieldOffset(1) != 16 || nested.FieldOffset(2) != 32 {
		t.Errorf("layout of %v: size %d, offsets %d %d", nested, nested.Size, nested.FieldOffset(1), nested.FieldOffset(2))
	}
	if got := TupleOf(Pointer("char", User)).Fields()[0]; got != UInt64 {
		t.Errorf("a pointer element is %v, want uint64", got)
	}
}

// Same tuples have the same shape; Widen keeps the longer strings.
func TestTupleSameWiden(t *testing.T) {
	short, long := TupleOf(Int64, String(2)), TupleOf(UInt64, String(7))
	if !Same(short, long) || Same(short, TupleOf(Int64, Int64)) || Same(short, TupleOf(Int64)) {
		t.Error("Same on tuples")
	}
	if got := Widen(short, long); got != TupleOf(Int64, String(7)) {
		t.Errorf("Widen = %v", got)
	}
}
