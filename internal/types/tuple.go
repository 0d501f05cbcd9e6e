package types

import (
	"fmt"
	"strings"
	"sync"
)

// fieldList is the interned element list of a tuple type.
type fieldList struct {
	types   []Type
	offsets []int
	names   []string // a record's field names; nil for a tuple
}

var (
	internMu sync.Mutex
	interned = map[string]*fieldList{}
)

// TupleOf returns the tuple type of the given elements. Each element takes
// one slot: 8 bytes for an integer or pointer, a string's whole words, a
// nested tuple's size. Integers are widened to 64 bits as they are stored,
// so (pid, 1) and (1, 2) are the same type. Equal element lists give
// equal (==) types.
func TupleOf(elems ...Type) Type { return NamedTupleOf(nil, elems...) }

// NamedTupleOf returns the type of a record, a tuple whose elements have
// names: (color="green", size=2). Without names it is TupleOf.
func NamedTupleOf(names []string, elems ...Type) Type {
	norm := make([]Type, len(elems))
	for i, e := range elems {
		norm[i] = slotType(e)
	}
	key := keyOf(norm)
	if names != nil {
		key = namesKey(names) + key
	}
	internMu.Lock()
	defer internMu.Unlock()
	fl, ok := interned[key]
	if !ok {
		fl = &fieldList{types: norm, names: names}
		off := 0
		for _, e := range norm {
			fl.offsets = append(fl.offsets, off)
			off += SlotSize(e)
		}
		interned[key] = fl
	}
	size := 0
	for _, e := range norm {
		size += SlotSize(e)
	}
	return Type{Kind: Tuple, Size: size, fields: fl}
}

// slotType is the type a value takes once stored in a slot: integers and
// pointers become 64-bit integers.
func slotType(t Type) Type {
	switch {
	case t.Kind == Bool:
		return Boolean
	case t.Kind == Ptr:
		return UInt64
	case t.Kind == Int && (t.Signed || t.Size < 8):
		return Int64
	case t.Kind == Int:
		return UInt64
	}
	return t
}

// key identifies a slot type exactly, nested tuples included.
func (t Type) key() string {
	if t.Kind == Tuple {
		return namesKey(t.fields.names) + "(" + keyOf(t.fields.types) + ")"
	}
	return fmt.Sprintf("%s/%s/%d", t, t.StackMode, t.StackDepth)
}

// namesKey identifies a record's field names, [] for a tuple's none.
func namesKey(names []string) string { return "[" + strings.Join(names, ",") + "]" }

func keyOf(ts []Type) string {
	s := ""
	for _, t := range ts {
		s += t.key() + ";"
	}
	return s
}

// Fields returns a tuple's element types; nil for other types.
func (t Type) Fields() []Type {
	if t.fields == nil {
		return nil
	}
	return t.fields.types
}

// Names returns a record's field names; nil for a tuple.
func (t Type) Names() []string {
	if t.fields == nil {
		return nil
	}
	return t.fields.names
}

// FieldOffset returns the byte offset of element i within a tuple.
func (t Type) FieldOffset(i int) int { return t.fields.offsets[i] }

// SlotSize is the room a value of type t takes in a key, a map value, an
// event record, a tuple or a stack slot: 8 bytes, or whole words.
func SlotSize(t Type) int {
	if t.IsInt() {
		return 8
	}
	return Align8(t.Size)
}

// Widen returns the type that holds values of both a and b, which are
// Same: the longer of two strings, element by element for tuples.
func Widen(a, b Type) Type {
	switch {
	case a.Kind != b.Kind && (a.Kind == Bool || b.Kind == Bool):
		return Int64 // a bool mixed with numbers holds numbers
	case a.Kind == Str && b.Kind == Str:
		return String(max(a.Size, b.Size))
	case a.Kind == Buf && b.Kind == Buf:
		return Buffer(max(a.Size, b.Size))
	case a.Kind == Tuple && b.Kind == Tuple:
		fa, fb := a.Fields(), b.Fields()
		out := make([]Type, len(fa))
		for i := range fa {
			out[i] = Widen(fa[i], fb[i])
		}
		return NamedTupleOf(a.Names(), out...)
	}
	return a
}
