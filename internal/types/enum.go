package types

import (
	"fmt"
	"strings"
)

// enumDef is the interned definition of an enum type: its C name and its
// values' names.
type enumDef struct {
	name  string
	names map[uint64]string
}

var internedEnums = map[string]*enumDef{}

// EnumValue is one named value of an enum.
type EnumValue struct {
	Name  string
	Value uint64
}

// EnumOf returns the integer type of a C enum named name ("enum
// hrtimer_restart"): an integer of size bytes that printf's %s prints by
// the name of its value. Equal definitions give equal (==) types.
func EnumOf(name string, size int, signed bool, values []EnumValue) Type {
	names := map[uint64]string{}
	var key strings.Builder
	fmt.Fprintf(&key, "%s/%d/%t", name, size, signed)
	for _, v := range values {
		if size < 8 {
			v.Value &= 1<<(8*size) - 1
		}
		if _, dup := names[v.Value]; !dup {
			// C allows two names for one value; the first one names it.
			names[v.Value] = v.Name
		}
		fmt.Fprintf(&key, ";%s=%d", v.Name, v.Value)
	}
	internMu.Lock()
	defer internMu.Unlock()
	d, ok := internedEnums[key.String()]
	if !ok {
		d = &enumDef{name: name, names: names}
		internedEnums[key.String()] = d
	}
	return Type{Kind: Int, Size: size, Signed: signed, enum: d}
}

// Enum returns the C name of an enum type, "" for other types.
func (t Type) Enum() string {
	if t.enum == nil {
		return ""
	}
	return t.enum.name
}

// EnumName returns the name of v, a value of the enum type t, as %s prints
// it: the value's name, or the number for a value the enum does not name.
// bits are the value as stored, sign-extended for a signed enum.
func (t Type) EnumName(bits uint64) string {
	if t.Size < 8 {
		bits &= 1<<(8*t.Size) - 1
	}
	if name, ok := t.enum.names[bits]; ok {
		return name
	}
	if t.Signed {
		shift := 64 - 8*t.Size
		return fmt.Sprint(int64(bits<<shift) >> shift)
	}
	return fmt.Sprint(bits)
}
