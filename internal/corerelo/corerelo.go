// Package corerelo owns CO-RE ("compile once, run everywhere") relocations:
// codegen tags each instruction whose constant depends on a kernel type's
// layout with a Relocation naming the type and member path, and load
// resolves them against the BTF of the kernel the programs load into.
//
// cilium/ebpf applies CO-RE relocations only to programs read from ELF
// objects (its CORERelocation has no constructor), so ebtrace, which writes
// bytecode directly, resolves its own, by member name as libbpf does:
// a struct is found by name in the target BTF, each member by name, anonymous
// structs and unions searched through.
package corerelo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Kind is what a relocation computes.
type Kind int

const (
	ByteOffset Kind = iota // byte offset of the member from the root type's start
	ByteSize               // bytes to read to cover the member
	LShift                 // left shift isolating a bitfield in a 64-bit load
	RShift                 // right shift that follows it
	TypeSize               // sizeof the root type
)

var kindNames = [...]string{"byte offset", "byte size", "lshift", "rshift", "type size"}

func (k Kind) String() string { return kindNames[k] }

// Relocation is one layout-dependent constant.
type Relocation struct {
	Kind Kind
	Root string   // C name of a kernel struct or union, e.g. "struct task_struct"
	Path []string // member names from Root; empty for TypeSize
	// From, for ByteOffset, measures the offset from member Path[:From]
	// rather than from Root: the container of a member of an anonymous
	// struct, which has no name of its own to relocate by.
	From int
}

func (r *Relocation) String() string {
	if len(r.Path) == 0 {
		return fmt.Sprintf("%s %s", r.Kind, r.Root)
	}
	return fmt.Sprintf("%s %s.%s", r.Kind, r.Root, strings.Join(r.Path, "."))
}

type metaKey struct{}

// With tags ins with r.
func With(ins asm.Instruction, r *Relocation) asm.Instruction {
	ins.Metadata.Set(metaKey{}, r)
	return ins
}

// Of returns the relocation of ins, or nil.
func Of(ins *asm.Instruction) *Relocation {
	r, _ := ins.Metadata.Get(metaKey{}).(*Relocation)
	return r
}

// Applied is a relocation resolved in a program.
type Applied struct {
	Offset   int // in instructions (a 64-bit immediate load counts two), as -d asm numbers them
	Reloc    *Relocation
	Compiled int64 // the value codegen wrote, from the compiling kernel's BTF
	Value    int64 // the value for the target kernel
}

// ErrNoMember is wrapped when a relocation's type or member is missing from
// the target kernel.
var ErrNoMember = errors.New("missing from the kernel's BTF")

// Apply returns a copy of insns with every relocation resolved against
// spec, and what it changed.
func Apply(insns asm.Instructions, spec *btf.Spec) (asm.Instructions, []Applied, error) {
	var out asm.Instructions
	var applied []Applied
	raw := 0
	for i := range insns {
		at := raw
		raw += int(insns[i].Size() / asm.InstructionSize)
		r := Of(&insns[i])
		if r == nil {
			continue
		}
		if out == nil {
			out = make(asm.Instructions, len(insns))
			copy(out, insns)
		}
		v, err := Resolve(r, spec)
		if err != nil {
			return nil, nil, err
		}
		ins := &out[i]
		a := Applied{Offset: at, Reloc: r, Value: v}
		switch {
		case ins.OpCode.Class().IsLoad() && ins.OpCode.Mode() == asm.MemMode,
			ins.OpCode.Class().IsStore() && ins.OpCode.Mode() == asm.MemMode:
			a.Compiled, ins.Offset = int64(ins.Offset), int16(v)
		default:
			a.Compiled, ins.Constant = ins.Constant, v
		}
		applied = append(applied, a)
	}
	if out == nil {
		return insns, nil, nil
	}
	return out, applied, nil
}

// Field is a member found by path.
type Field struct {
	Type      btf.Type // the member's type
	BitOffset int      // from the root type's start
	BitSize   int      // a bitfield's width; 0 otherwise
}

// Resolve computes r's value for the kernel types in spec.
func Resolve(r *Relocation, spec *btf.Spec) (int64, error) {
	root, err := FindType(spec, r.Root)
	if err != nil {
		return 0, err
	}
	if r.Kind == TypeSize {
		n, err := btf.Sizeof(root)
		return int64(n), err
	}
	f, err := FindField(root, r.Path)
	if err != nil {
		return 0, fmt.Errorf("%s.%s: %w", r.Root, strings.Join(r.Path, "."), err)
	}
	off, size, lshift, rshift, err := f.Layout()
	if err != nil {
		return 0, err
	}
	if r.From > 0 && r.Kind == ByteOffset {
		outer, err := FindField(root, r.Path[:r.From])
		if err != nil {
			return 0, err
		}
		off -= outer.BitOffset / 8
	}
	return [...]int64{ByteOffset: int64(off), ByteSize: int64(size), LShift: int64(lshift), RShift: int64(rshift)}[r.Kind], nil
}

// Layout gives how a field is read: size bytes at byte offset off, then,
// for a bitfield, shifted left by lshift and right by rshift in 64 bits
// (as libbpf's field relocations describe it, little-endian).
func (f Field) Layout() (off, size, lshift, rshift int, err error) {
	n, err := btf.Sizeof(f.Type)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if f.BitSize == 0 {
		return f.BitOffset / 8, n, 0, 0, nil
	}
	size = n
	off = f.BitOffset / 8 / size * size
	for f.BitOffset+f.BitSize-off*8 > size*8 {
		if size >= 8 {
			return 0, 0, 0, 0, fmt.Errorf("bitfield wider than 64 bits: %w", btf.ErrNotSupported)
		}
		size *= 2
		off = f.BitOffset / 8 / size * size
	}
	return off, size, 64 - (f.BitOffset + f.BitSize - off*8), 64 - f.BitSize, nil
}

// FindType finds a struct or union by its C name ("struct task_struct").
func FindType(spec *btf.Spec, name string) (btf.Type, error) {
	kw, bare, _ := strings.Cut(name, " ")
	var found btf.Type
	switch kw {
	case "struct":
		var s *btf.Struct
		if err := spec.TypeByName(bare, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, ErrNoMember)
		}
		found = s
	case "union":
		var u *btf.Union
		if err := spec.TypeByName(bare, &u); err != nil {
			return nil, fmt.Errorf("%s: %w", name, ErrNoMember)
		}
		found = u
	default:
		return nil, fmt.Errorf("%s is not a struct or union", name)
	}
	return found, nil
}

// FindField walks member names from root, looking through anonymous
// struct and union members and typedefs.
func FindField(root btf.Type, path []string) (Field, error) {
	f := Field{Type: root}
	for _, name := range path {
		m, off, ok := member(btf.UnderlyingType(f.Type), name)
		if !ok {
			return Field{}, fmt.Errorf("no member %q: %w", name, ErrNoMember)
		}
		f = Field{Type: m.Type, BitOffset: f.BitOffset + off, BitSize: int(m.BitfieldSize)}
	}
	return f, nil
}

// member finds name among the members of a struct or union, recursing into
// anonymous ones; off is its bit offset in t.
func member(t btf.Type, name string) (btf.Member, int, bool) {
	var members []btf.Member
	switch t := t.(type) {
	case *btf.Struct:
		members = t.Members
	case *btf.Union:
		members = t.Members
	default:
		return btf.Member{}, 0, false
	}
	for _, m := range members {
		if m.Name == name {
			return m, int(m.Offset), true
		}
	}
	for _, m := range members {
		if m.Name != "" {
			continue
		}
		if inner, off, ok := member(btf.UnderlyingType(m.Type), name); ok {
			return inner, int(m.Offset) + off, true
		}
	}
	return btf.Member{}, 0, false
}
