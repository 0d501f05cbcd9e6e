package cdecl

import (
	"math"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// enumConst is a value a script's enum names.
type enumConst struct {
	enum  *btf.Enum
	value uint64
}

// DeclareEnums adds the script's enum definitions: a named one is a type
// (enum NAME) as in C, and every value's name is a constant of its enum
// type. A name defined twice is an error at the later definition.
func (t *Table) DeclareEnums(decls []*syntax.EnumDecl, report Report) {
	for _, d := range decls {
		e := &btf.Enum{Name: d.Name, Size: 4}
		for _, c := range d.Values {
			if c.Value < 0 {
				e.Signed = true
			}
			if c.Value < math.MinInt32 || c.Value > math.MaxUint32 || e.Signed && c.Value > math.MaxInt32 {
				e.Size = 8
			}
		}
		for _, c := range d.Values {
			if _, dup := t.consts[c.Name]; dup {
				report(c, "each enum value's name names one constant: rename one of them", "enum value %s is defined twice", c.Name)
				continue
			}
			e.Values = append(e.Values, btf.EnumValue{Name: c.Name, Value: uint64(c.Value)})
			t.consts[c.Name] = enumConst{enum: e, value: uint64(c.Value)}
		}
		if d.Name == "" {
			continue
		}
		if _, dup := t.local["enum "+d.Name]; dup {
			report(d, "an enum tag names one type, defined once: rename one of them", "enum %s is defined twice", d.Name)
			continue
		}
		t.local["enum "+d.Name] = e
	}
}

// EnumConstant looks name up among the values of the script's enums: the
// script type of its enum and its value.
func (t *Table) EnumConstant(name string) (types.Type, uint64, bool) {
	c, ok := t.consts[name]
	if !ok {
		return types.None, 0, false
	}
	return t.EnumType(c.enum), c.value, true
}

// EnumType is the script type of a C enum (enumScriptType), kept per
// enum: it lists and interns every value, and each use of a member or
// constant of the enum asks again.
func (t *Table) EnumType(e *btf.Enum) types.Type {
	typ, ok := t.enums[e]
	if !ok {
		typ = enumScriptType(e)
		t.enums[e] = typ
	}
	return typ
}

// enumScriptType is the script type of a C enum: an integer of its size whose
// values print by name.
func enumScriptType(e *btf.Enum) types.Type {
	name := "enum " + e.Name
	if e.Name == "" {
		name = "enum <anonymous>"
	}
	values := make([]types.EnumValue, len(e.Values))
	for i, v := range e.Values {
		values[i] = types.EnumValue{Name: v.Name, Value: v.Value}
	}
	return types.EnumOf(name, int(e.Size), e.Signed, values)
}
