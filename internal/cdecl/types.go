// Package cdecl owns the C declarations and types a script names: the
// structs and unions it defines or #includes, the integer type names, and
// the running kernel's types from BTF. Every type is a btf.Type, so a
// script's own struct and a kernel struct are read the same way; what
// differs is that kernel types are relocatable: their member offsets become
// CO-RE relocations (package corerelo) that load resolves against the
// target kernel.
package cdecl

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/corerelo"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Table resolves C type names for one script.
type Table struct {
	kernel  func() (*btf.Spec, error)
	local   map[string]btf.Type  // "struct foo" from the script or its headers
	anon    map[string]btf.Type  // names given to anonymous structs and unions
	kernels map[btf.Type]bool    // types that came from kernel BTF
	consts  map[string]enumConst // the values of the script's enums
	enums   map[*btf.Enum]types.Type
}

// New returns a table that falls back to the kernel BTF that kernel
// returns; kernel may be nil when there is none.
func New(kernel func() (*btf.Spec, error)) *Table {
	return &Table{kernel: kernel, local: map[string]btf.Type{}, anon: map[string]btf.Type{}, kernels: map[btf.Type]bool{}, consts: map[string]enumConst{}, enums: map[*btf.Enum]types.Type{}}
}

// ErrUnknown is wrapped when a type name resolves to nothing.
var ErrUnknown = errors.New("unknown type")

// scriptInts are bpftrace's integer names and the kernel's short ones.
var scriptInts = map[string]struct {
	size   int
	signed bool
}{
	"int8": {1, true}, "int16": {2, true}, "int32": {4, true}, "int64": {8, true},
	"uint8": {1, false}, "uint16": {2, false}, "uint32": {4, false}, "uint64": {8, false},
	"s8": {1, true}, "s16": {2, true}, "s32": {4, true}, "s64": {8, true},
	"u8": {1, false}, "u16": {2, false}, "u32": {4, false}, "u64": {8, false},
	"char": {1, true}, "signed char": {1, true}, "unsigned char": {1, false},
	"short": {2, true}, "short int": {2, true}, "unsigned short": {2, false}, "unsigned short int": {2, false},
	"int": {4, true}, "signed": {4, true}, "signed int": {4, true}, "unsigned": {4, false}, "unsigned int": {4, false},
	"long": {8, true}, "long int": {8, true}, "unsigned long": {8, false}, "unsigned long int": {8, false},
	"long long": {8, true}, "long long int": {8, true}, "unsigned long long": {8, false}, "unsigned long long int": {8, false},
	"bool": {1, false},
	// The spellings gcc gives kernel BTF, which arrays' elements are
	// looked up by.
	"short unsigned int": {2, false}, "long unsigned int": {8, false}, "long long unsigned int": {8, false}, "_Bool": {1, false},
}

// Lookup resolves a C type name: a script struct, an integer name, or a
// kernel type (struct, union, enum or typedef) from BTF.
func (t *Table) Lookup(name string) (btf.Type, error) {
	if base, ok := strings.CutSuffix(name, " *"); ok {
		typ, err := t.Lookup(base)
		if err != nil {
			return nil, err
		}
		return &btf.Pointer{Target: typ}, nil
	}
	if typ, ok := t.local[name]; ok {
		return typ, nil
	}
	if typ, ok := t.anon[name]; ok {
		return typ, nil
	}
	if in, ok := scriptInts[name]; ok {
		enc := btf.Unsigned
		if in.signed {
			enc = btf.Signed
		}
		if name == "bool" {
			enc = btf.Bool
		}
		return &btf.Int{Name: name, Size: uint32(in.size), Encoding: enc}, nil
	}
	if name == "void" {
		return &btf.Void{}, nil
	}
	spec, err := t.kernelSpec()
	if err != nil {
		return nil, fmt.Errorf("%s: %w (kernel BTF: %v)", name, ErrUnknown, err)
	}
	kw, bare, record := strings.Cut(name, " ")
	var typ btf.Type
	switch {
	case record && (kw == "struct" || kw == "union"):
		typ, err = corerelo.FindType(spec, name)
	case record && kw == "enum":
		var e *btf.Enum
		err = spec.TypeByName(bare, &e)
		typ = e
	default:
		var td *btf.Typedef
		err = spec.TypeByName(name, &td)
		typ = td
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrUnknown)
	}
	t.kernels[typ] = true
	return typ, nil
}

func (t *Table) kernelSpec() (*btf.Spec, error) {
	if t.kernel == nil {
		return nil, errors.New("no kernel BTF")
	}
	return t.kernel()
}

// Relocatable reports whether a record type came from kernel BTF, so its
// member offsets must be relocated.
func (t *Table) Relocatable(name string) bool {
	typ, err := t.Lookup(name)
	return err == nil && t.kernels[typ]
}

// Forget removes definitions, and the structs and unions defined inside
// them.
func (t *Table) Forget(decls []*syntax.StructDecl) {
	for _, d := range definitions(decls) {
		delete(t.local, recordName(d))
	}
}

// Names returns the struct and union names the script defines and, when
// kernel BTF is at hand, the kernel's: candidates for "did you mean".
func (t *Table) Names() []string {
	var out []string
	for n := range t.local {
		out = append(out, n)
	}
	if spec, err := t.kernelSpec(); err == nil {
		for typ, err := range spec.All() {
			if err != nil {
				break
			}
			switch typ := typ.(type) {
			case *btf.Struct:
				if typ.Name != "" {
					out = append(out, "struct "+typ.Name)
				}
			case *btf.Union:
				if typ.Name != "" {
					out = append(out, "union "+typ.Name)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Members returns the member names of a struct or union, anonymous
// members' own included, for hints.
func Members(typ btf.Type) []string {
	var out []string
	var walk func(btf.Type)
	walk = func(typ btf.Type) {
		var ms []btf.Member
		switch typ := btf.UnderlyingType(typ).(type) {
		case *btf.Struct:
			ms = typ.Members
		case *btf.Union:
			ms = typ.Members
		}
		for _, m := range ms {
			if m.Name == "" {
				walk(m.Type)
			} else {
				out = append(out, m.Name)
			}
		}
	}
	walk(typ)
	return out
}

// Name returns the C name a script type uses for typ: "struct file",
// "char", "struct file *", "pid_t". An anonymous struct or union gets a
// name this table resolves.
func (t *Table) Name(typ btf.Type) string {
	switch typ := typ.(type) {
	case *btf.Struct:
		if typ.Name == "" {
			return t.anonName("struct", typ)
		}
		return "struct " + typ.Name
	case *btf.Union:
		if typ.Name == "" {
			return t.anonName("union", typ)
		}
		return "union " + typ.Name
	case *btf.Enum:
		return "enum " + typ.Name
	case *btf.Fwd:
		return typ.Kind.String() + " " + typ.Name
	case *btf.Pointer:
		return t.Name(typ.Target) + " *"
	case *btf.Const:
		return t.Name(typ.Type)
	case *btf.Volatile:
		return t.Name(typ.Type)
	case *btf.Restrict:
		return t.Name(typ.Type)
	case *btf.TypeTag:
		return t.Name(typ.Type)
	case *btf.Array:
		return t.Name(typ.Type)
	case *btf.Void:
		return "void"
	case *btf.FuncProto:
		return "void"
	case interface{ TypeName() string }:
		return typ.TypeName()
	}
	return "void"
}

func (t *Table) anonName(kw string, typ btf.Type) string {
	for name, a := range t.anon {
		if a == typ {
			return name
		}
	}
	name := fmt.Sprintf("%s <anonymous#%d>", kw, len(t.anon)+1)
	t.anon[name] = typ
	return name
}

// userTagged reports whether a pointer's target carries the __user tag.
func userTagged(typ btf.Type) bool {
	for {
		switch q := typ.(type) {
		case *btf.TypeTag:
			if q.Value == "user" {
				return true
			}
			typ = q.Type
		case *btf.Const:
			typ = q.Type
		case *btf.Volatile:
			typ = q.Type
		default:
			return false
		}
	}
}

// ScriptType is the script type of a value of C type typ lying in memory of
// address space as. A char array is a string; other arrays, structs and
// unions stay in memory; a pointer keeps its pointee's name. ok is false
// for types a script cannot hold (floats, functions).
func (t *Table) ScriptType(typ btf.Type, as types.AddrSpace) (types.Type, bool) {
	switch u := btf.UnderlyingType(typ).(type) {
	case *btf.Int:
		if u.Size > 8 {
			return types.None, false
		}
		return types.IntOf(int(u.Size), u.Encoding == btf.Signed || u.Encoding == btf.Char), true
	case *btf.Enum:
		return t.EnumType(u), true
	case *btf.Pointer:
		space := as
		if userTagged(u.Target) {
			space = types.User
		}
		return types.Pointer(t.Name(u.Target), space), true
	case *btf.Struct, *btf.Union:
		n, _ := btf.Sizeof(u)
		return types.RecordOf(t.Name(u), n, as), true
	case *btf.Array:
		n, err := btf.Sizeof(u)
		if err != nil {
			return types.None, false
		}
		if el, ok := btf.UnderlyingType(u.Type).(*btf.Int); ok && el.Size == 1 {
			s := types.String(int(u.Nelems))
			s.AddrSpace = as // where [i] reads a char from
			return s, true
		}
		return types.ArrayOf(t.Name(u.Type), int(u.Nelems), n, as), true
	}
	return types.None, false
}

// Report receives an error in a definition: the node at fault, a hint for
// the user, and the message.
type Report func(n syntax.Node, hint, format string, args ...any)

// memberHint is the hint for a member whose type cannot be laid out.
const memberHint = "members may be integers (int, uint32, char, ...), pointers, arrays and structs defined in the script or known to the kernel's BTF"

// Declare adds the script's (or a header's) struct and union definitions,
// and those defined inside them: as in C, a struct or union defined inside
// another is a type of its own, usable by name anywhere after. Definitions
// are laid out as a C compiler lays them out on 64-bit Linux. A member of
// an unknown type is an error at its span.
func (t *Table) Declare(decls []*syntax.StructDecl, report Report) {
	// Declare every name first so members may point to any of them. A
	// name is defined once: laying out a second definition into the same
	// type could make it contain itself.
	var defs []*syntax.StructDecl
	defined := map[string]*syntax.StructDecl{}
	for _, d := range definitions(decls) {
		name := recordName(d)
		if first := defined[name]; first != nil {
			// Point at the one written later, the inner one when
			// one holds the other.
			at := d
			if first.Sp.Start > d.Sp.Start {
				at = first
			}
			report(at, "a struct or union tag names one type, defined once: rename one of them", "%s is defined twice", name)
			continue
		}
		defined[name] = d
		defs = append(defs, d)
		if d.Union {
			t.local[name] = &btf.Union{Name: d.Name}
		} else {
			t.local[name] = &btf.Struct{Name: d.Name}
		}
	}
	for _, d := range defs {
		t.layout(d, report)
	}
}

// definitions lists the named definitions among decls and inside them,
// each inner one before the one holding it: the order in which C completes
// them, so that a member's type is laid out before its container.
func definitions(decls []*syntax.StructDecl) []*syntax.StructDecl {
	var out []*syntax.StructDecl
	var walk func(d *syntax.StructDecl)
	walk = func(d *syntax.StructDecl) {
		for _, m := range d.Members {
			if m.Type.Inline != nil {
				walk(m.Type.Inline)
			}
		}
		if d.Name != "" {
			out = append(out, d)
		}
	}
	for _, d := range decls {
		walk(d)
	}
	return out
}

// recordName is the name a script uses for a named definition.
func recordName(d *syntax.StructDecl) string {
	if d.Union {
		return "union " + d.Name
	}
	return "struct " + d.Name
}

// fill computes r's members, offsets and size from d.
func (t *Table) fill(r btf.Type, d *syntax.StructDecl, report Report) {
	var members []btf.Member
	bit, align, size := 0, 1, 0
	for _, m := range d.Members {
		if m.Name == "" && m.Type.Inline != nil && m.Type.Inline.Name != "" {
			continue // `struct tag { ... };` defines a type, not a member
		}
		typ, err := t.memberType(m, report)
		if err != nil {
			report(m, memberHint, "member %s: %v", m.Name, err)
			continue
		}
		n, err := btf.Sizeof(typ)
		if err != nil || n == 0 {
			report(m, memberHint, "member %s has a type of unknown size: %s", m.Name, m.Type)
			continue
		}
		a := alignOf(typ)
		align = max(align, a)
		mem := btf.Member{Name: m.Name, Type: typ}
		switch {
		case d.Union:
			size = max(size, n)
		case m.Bits > 0:
			// A bitfield starts in the current unit unless it would
			// straddle an alignment boundary of its type.
			if bit/(a*8) != (bit+m.Bits-1)/(a*8) {
				bit = (bit + a*8 - 1) / (a * 8) * (a * 8)
			}
			mem.Offset, mem.BitfieldSize = btf.Bits(bit), btf.Bits(m.Bits)
			bit += m.Bits
		default:
			bit = (bit + a*8 - 1) / (a * 8) * (a * 8)
			mem.Offset = btf.Bits(bit)
			bit += n * 8
		}
		members = append(members, mem)
	}
	if !d.Union {
		size = (bit + 7) / 8
	}
	size = (size + align - 1) / align * align
	switch r := r.(type) {
	case *btf.Union:
		r.Size, r.Members = uint32(size), members
	case *btf.Struct:
		r.Size, r.Members = uint32(size), members
	}
}

// record returns the type a declaration fills in: a named one declared
// beforehand, or a new anonymous one.
func (t *Table) record(d *syntax.StructDecl) btf.Type {
	if d.Name == "" {
		if d.Union {
			return &btf.Union{}
		}
		return &btf.Struct{}
	}
	return t.local[recordName(d)]
}

// layout fills in the members, offsets and size of the struct or union
// d defines, named or defined without a name inside another, and returns
// it.
func (t *Table) layout(d *syntax.StructDecl, report Report) btf.Type {
	r := t.record(d)
	t.fill(r, d, report)
	return r
}

// memberType builds a member's C type from its declaration.
func (t *Table) memberType(m *syntax.MemberDecl, report Report) (btf.Type, error) {
	var typ btf.Type
	var err error
	if in := m.Type.Inline; in != nil && in.Name == "" {
		typ = t.layout(in, report)
	} else {
		// A named definition in place was declared with the others.
		typ, err = t.Lookup(m.Type.Name)
	}
	if err != nil {
		// A pointer may point to a struct nothing defines, as in C.
		kw, bare, _ := strings.Cut(m.Type.Name, " ")
		if m.Type.Ptr == 0 || (kw != "struct" && kw != "union") {
			return nil, err
		}
		kind := btf.FwdStruct
		if kw == "union" {
			kind = btf.FwdUnion
		}
		typ = &btf.Fwd{Name: bare, Kind: kind}
	}
	for range m.Type.Ptr {
		typ = &btf.Pointer{Target: typ}
	}
	for i := len(m.Array) - 1; i >= 0; i-- {
		typ = &btf.Array{Type: typ, Index: &btf.Int{Name: "int", Size: 4}, Nelems: uint32(m.Array[i])}
	}
	return typ, nil
}

// alignOf is a type's natural alignment on 64-bit Linux.
func alignOf(typ btf.Type) int {
	switch u := btf.UnderlyingType(typ).(type) {
	case *btf.Array:
		return alignOf(u.Type)
	case *btf.Struct:
		a := 1
		for _, m := range u.Members {
			a = max(a, alignOf(m.Type))
		}
		return a
	case *btf.Union:
		a := 1
		for _, m := range u.Members {
			a = max(a, alignOf(m.Type))
		}
		return a
	}
	n, err := btf.Sizeof(typ)
	if err != nil || n == 0 {
		return 1
	}
	return min(n, 8)
}
