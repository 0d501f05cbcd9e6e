package cdecl

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/glob"
)

// Definition returns the C definition of a struct, union or enum, ending in
// ";\n", laid out as libbpf's BTF-to-C dumper lays it out, which is what
// bpftrace -lv prints: one member a line, indented by tabs; anonymous
// structs, unions and enums defined in place; bitfield widths; unnamed
// bitfields ("long: 64;") where a compiler would not leave the gap the type
// has by itself; and __attribute__((packed)) where offsets or the size show
// the type was packed. Any other type gives its name.
func Definition(typ btf.Type) string {
	var b strings.Builder
	definition(&b, typ, 0)
	b.WriteString(";\n")
	return b.String()
}

// declaration returns the C declaration of name as a typ, in C's
// declarator syntax: "char comm[16]", "void *stack", "char * const p",
// "ssize_t (*read)(struct file *, char *, size_t, loff_t *)"; an empty name
// gives the type alone, as a parameter list has it ("struct file *"). It
// builds the declarator from the name outwards, as C reads it from the
// name inwards: a pointer prefixes '*', an array or function suffixes its
// brackets or parameters, with parentheses where a pointer would otherwise
// bind to the suffix. What is left at the end of the chain, with the
// qualifiers that apply to it, is written before the declarator. depth is
// the indentation of the line, for anonymous types defined in place.
func declaration(typ btf.Type, name string, depth int) string {
	declarator := name
	var quals []string // qualifiers of the base type, outermost first
chain:
	for {
		switch t := typ.(type) {
		case *btf.Pointer:
			declarator = pointerTo(declarator)
			typ = t.Target
		case *btf.Const, *btf.Volatile, *btf.Restrict:
			q := qualifierName(t)
			switch btf.QualifiedType(qualifiedTarget(t)).(type) {
			case *btf.Pointer:
				// A qualified pointer: the qualifier follows its star.
				declarator = strings.TrimSpace(q + " " + declarator)
			case *btf.Array, *btf.FuncProto:
				// C cannot qualify these; compilers qualify the
				// elements (again), and libbpf leaves this one out.
			default:
				quals = append(quals, q)
			}
			typ = qualifiedTarget(t)
		case *btf.TypeTag:
			typ = t.Type
		case *btf.Array:
			if strings.HasPrefix(declarator, "*") {
				declarator = "(" + declarator + ")"
			}
			declarator += fmt.Sprintf("[%d]", t.Nelems)
			typ = t.Type
		case *btf.FuncProto:
			if strings.HasPrefix(declarator, "*") {
				declarator = "(" + declarator + ")"
			}
			declarator += parameters(t)
			typ = t.Return
		default:
			break chain
		}
	}
	var b strings.Builder
	// The qualifier nearest the base type comes first, as libbpf writes
	// them: "volatile const int" for const(volatile(int)).
	for _, q := range slices.Backward(quals) {
		b.WriteString(q + " ")
	}
	base(&b, typ, depth)
	if declarator != "" {
		b.WriteString(" " + declarator)
	}
	return b.String()
}

// pointerTo prefixes a declarator with a pointer's star, set off by a space
// from a qualifier or a parenthesised declarator: "**p", "* const p",
// "* (*f)(int)".
func pointerTo(declarator string) string {
	word, _, _ := strings.Cut(declarator, " ")
	if strings.HasPrefix(declarator, "(") || word == "const" || word == "volatile" || word == "restrict" {
		return "* " + declarator
	}
	return "*" + declarator
}

func qualifierName(t btf.Type) string {
	switch t.(type) {
	case *btf.Const:
		return "const"
	case *btf.Volatile:
		return "volatile"
	}
	return "restrict"
}

func qualifiedTarget(t btf.Type) btf.Type {
	switch t := t.(type) {
	case *btf.Const:
		return t.Type
	case *btf.Volatile:
		return t.Type
	case *btf.Restrict:
		return t.Type
	}
	return t
}

// parameters is a function's parameter list: "()" when BTF lists none,
// "(void)" for a lone void parameter, "..." for a trailing one (variadic).
func parameters(f *btf.FuncProto) string {
	ps := f.Params
	if len(ps) == 1 && isVoid(ps[0].Type) {
		return "(void)"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		if i == len(ps)-1 && isVoid(p.Type) {
			parts[i] = "..."
			continue
		}
		parts[i] = declaration(p.Type, p.Name, 0)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func isVoid(t btf.Type) bool {
	_, ok := t.(*btf.Void)
	return ok
}

// base writes the type a declarator applies to: its name, or for an
// anonymous struct, union or enum its definition.
func base(b *strings.Builder, typ btf.Type, depth int) {
	switch t := typ.(type) {
	case *btf.Struct:
		if t.Name == "" {
			definition(b, t, depth)
			return
		}
		b.WriteString("struct " + t.Name)
	case *btf.Union:
		if t.Name == "" {
			definition(b, t, depth)
			return
		}
		b.WriteString("union " + t.Name)
	case *btf.Enum:
		if t.Name == "" {
			definition(b, t, depth)
			return
		}
		b.WriteString("enum " + t.Name)
	case *btf.Fwd:
		b.WriteString(t.Kind.String() + " " + t.Name)
	case *btf.Void:
		b.WriteString("void")
	case interface{ TypeName() string }:
		b.WriteString(t.TypeName())
	default:
		b.WriteString("void")
	}
}

// definition writes a struct, union or enum with its members or values,
// the closing brace at depth tabs, and any other type's name.
func definition(b *strings.Builder, typ btf.Type, depth int) {
	switch t := typ.(type) {
	case *btf.Struct:
		record(b, "struct", t.Name, t.Members, int(t.Size), true, depth)
	case *btf.Union:
		record(b, "union", t.Name, t.Members, int(t.Size), false, depth)
	case *btf.Enum:
		enum(b, t, depth)
	default:
		base(b, typ, depth)
	}
}

// record writes a struct's or union's members, each after the padding that
// keeps it where BTF has it, a struct's then padded to its size.
func record(b *strings.Builder, kw, name string, members []btf.Member, size int, isStruct bool, depth int) {
	b.WriteString(kw)
	if name != "" {
		b.WriteString(" " + name)
	}
	b.WriteString(" {")
	widest, packed := recordAlignment(members, size)
	packed = packed && isStruct
	end := 0 // bit offset just past the previous member
	inBitfield := false
	for _, m := range members {
		align := 1
		if !packed {
			align = alignment(m.Type)
		}
		off := int(m.Offset)
		gap(b, end, off, align, inBitfield && m.BitfieldSize != 0, depth+1)
		line(b, depth+1, declaration(m.Type, m.Name, depth+1))
		if m.BitfieldSize != 0 {
			fmt.Fprintf(b, ": %d", m.BitfieldSize)
			end = off + int(m.BitfieldSize)
		} else {
			n, _ := btf.Sizeof(m.Type)
			end = off + 8*max(n, 0)
		}
		inBitfield = m.BitfieldSize != 0
		b.WriteString(";")
	}
	if isStruct {
		gap(b, end, 8*size, widest, false, depth+1)
	}
	if len(members) > 0 {
		b.WriteString("\n" + strings.Repeat("\t", depth))
	}
	b.WriteString("}")
	if packed {
		b.WriteString(" __attribute__((packed))")
	}
}

func line(b *strings.Builder, depth int, text string) {
	b.WriteString("\n" + strings.Repeat("\t", depth) + text)
}

// pads are the types unnamed bitfields are made of, widest first.
var pads = []struct {
	name string
	bits int
}{{"long", 64}, {"int", 32}, {"short", 16}, {"char", 8}}

// gap writes the unnamed bitfields that make a C compiler leave bits
// from..to empty before a member aligned to align bytes (or the end of the
// struct). The widest pad type whose alignment boundary falls inside the
// gap fills it: where the compiler would align to that boundary by itself
// nothing is needed up to it; otherwise, or in a run of bitfields, a
// "type: N" marker (N = 0 outside bitfields) moves there. Whole pads fill
// the rest, and the narrowest type that holds what remains ends it.
func gap(b *strings.Builder, from, to, align int, inBitfield bool, depth int) {
	if from >= to {
		return
	}
	pad := pads[len(pads)-1]
	boundary := roundUp(from, pad.bits)
	for _, p := range pads {
		if r := roundUp(from, p.bits); r <= to {
			pad, boundary = p, r
			break
		}
	}
	if boundary > from && boundary <= to {
		underAligned := boundary == to && roundUp(from, 8*max(align, 1)) != boundary
		swallowed := boundary != to && to-boundary <= boundary-from
		if inBitfield || underAligned || swallowed {
			width := 0
			if inBitfield {
				width = boundary - from
			}
			line(b, depth, fmt.Sprintf("%s: %d;", pad.name, width))
		}
		from = boundary
	}
	for from < to {
		bits := min(to-from, pad.bits)
		name := pad.name
		if bits < pad.bits {
			for _, p := range slices.Backward(pads) {
				if p.bits >= bits {
					name = p.name
					break
				}
			}
		}
		line(b, depth, fmt.Sprintf("%s: %d;", name, bits))
		from += bits
	}
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// alignment is a type's alignment as the layout of its members shows it:
// a struct or union whose members' offsets or size show it was packed
// aligns to 1 byte.
func alignment(typ btf.Type) int {
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Array:
		return alignment(t.Type)
	case *btf.Struct:
		a, _ := recordAlignment(t.Members, int(t.Size))
		return a
	case *btf.Union:
		a, _ := recordAlignment(t.Members, int(t.Size))
		return a
	}
	return alignOf(typ)
}

// recordAlignment is the alignment of a struct or union of members and
// size, each member's alignment worked out once, and whether it was
// packed: a member that is not a bitfield lies off its type's alignment,
// or the size is no multiple of the widest alignment. A packed one aligns
// to 1 byte.
func recordAlignment(members []btf.Member, size int) (int, bool) {
	widest, packed := 1, false
	for _, m := range members {
		a := alignment(m.Type)
		widest = max(widest, a)
		packed = packed || m.BitfieldSize == 0 && int(m.Offset)%(8*a) != 0
	}
	if packed || size%widest != 0 {
		return 1, true
	}
	return widest, false
}

// enum writes an enum's values, signed or not as the enum is, 64-bit ones
// with an LL or ULL suffix, and marks a one-byte enum, or an eight-byte
// one whose values would fit a smaller one, so a compiler gives it that
// size.
func enum(b *strings.Builder, e *btf.Enum, depth int) {
	b.WriteString("enum")
	if e.Name != "" {
		b.WriteString(" " + e.Name)
	}
	if len(e.Values) == 0 {
		return
	}
	b.WriteString(" {")
	for _, v := range e.Values {
		line(b, depth+1, v.Name+" = "+enumValue(e, v.Value)+",")
	}
	b.WriteString("\n" + strings.Repeat("\t", depth) + "}")
	switch {
	case e.Size == 1:
		b.WriteString(" __attribute__((mode(byte)))")
	case e.Size == 8 && !slices.ContainsFunc(e.Values, func(v btf.EnumValue) bool { return v.Value>>32 != 0 }):
		b.WriteString(" __attribute__((mode(word)))")
	}
}

func enumValue(e *btf.Enum, v uint64) string {
	switch {
	case e.Signed && e.Size <= 4:
		return fmt.Sprint(int32(v))
	case e.Signed:
		return fmt.Sprint(int64(v)) + "LL"
	case e.Size <= 4:
		return fmt.Sprint(uint32(v))
	}
	return fmt.Sprint(v) + "ULL"
}

// IsTypePattern reports whether a listing pattern names C types ("struct
// task*", "union bpf_attr", "enum *") rather than probes.
func IsTypePattern(pattern string) bool {
	kw, _, ok := strings.Cut(pattern, " ")
	return ok && (kw == "struct" || kw == "union" || kw == "enum")
}

// ListTypes writes the structs, unions or enums of spec whose "struct NAME"
// matches pattern, sorted by name, one a line, or with verbose each one's
// definition followed by a blank line. A name BTF holds more than once is
// listed once, with its first definition.
func ListTypes(w io.Writer, spec *btf.Spec, pattern string, verbose bool) error {
	if err := glob.Check(pattern); err != nil {
		return fmt.Errorf("-l: %w", err)
	}
	found := map[string]btf.Type{}
	for typ, err := range spec.All() {
		if err != nil {
			return err
		}
		var name string
		switch t := typ.(type) {
		case *btf.Struct:
			name = "struct " + t.Name
		case *btf.Union:
			name = "union " + t.Name
		case *btf.Enum:
			name = "enum " + t.Name
		}
		if name == "" || strings.HasSuffix(name, " ") || found[name] != nil || !glob.Match(pattern, name) {
			continue
		}
		found[name] = typ
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var err error
		if verbose {
			_, err = io.WriteString(w, Definition(found[n])+"\n")
		} else {
			_, err = io.WriteString(w, n+"\n")
		}
		if err != nil {
			return err
		}
	}
	return nil
}
