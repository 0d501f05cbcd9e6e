package fentry

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/types"
)

// The context of an fentry or fexit program is an array of u64: the
// function's arguments in order, one slot each (two for a 9-16 byte struct
// or integer), then on fexit the return value.

// maxArgs is MAX_BPF_FUNC_ARGS: the kernel attaches to no function with
// more parameters.
const maxArgs = 12

// param is one parameter and the index of its first context slot.
type param struct {
	Name string
	Type btf.Type
	Slot int
}

// layout places the parameters of proto in the context and returns the
// slot of the return value.
func layout(proto *btf.FuncProto) ([]param, int) {
	params := make([]param, len(proto.Params))
	slot := 0
	for i, p := range proto.Params {
		params[i] = param{Name: p.Name, Type: p.Type, Slot: slot}
		slot += slots(p.Type)
	}
	return params, slot
}

// slots is how many 8-byte context slots a value of t takes.
func slots(t btf.Type) int {
	size, err := btf.Sizeof(t)
	if err != nil || size <= 8 {
		return 1
	}
	return (size + 7) / 8
}

// unsupported says why the kernel would refuse to attach to a function of
// type proto (btf_distill_func_proto), or returns "".
func unsupported(proto *btf.FuncProto) string {
	n := len(proto.Params)
	if n > 0 {
		if _, ok := proto.Params[n-1].Type.(*btf.Void); ok {
			return "it takes variable arguments"
		}
	}
	if n > maxArgs {
		return fmt.Sprintf("it has %d parameters, more than the kernel's limit of %d", n, maxArgs)
	}
	for _, p := range proto.Params {
		if !passable(p.Type) {
			return fmt.Sprintf("parameter %s has type %s", p.Name, cDecl(p.Type))
		}
	}
	switch btf.UnderlyingType(proto.Return).(type) {
	case *btf.Void, *btf.Int, *btf.Enum, *btf.Pointer:
		return ""
	}
	return "it returns " + cDecl(proto.Return)
}

// passable reports whether the kernel's trampolines carry a parameter of
// type t: integers, enums, pointers and structs of up to 16 bytes.
func passable(t btf.Type) bool {
	switch btf.UnderlyingType(t).(type) {
	case *btf.Int, *btf.Enum, *btf.Pointer:
		return true
	case *btf.Struct, *btf.Union:
		size, err := btf.Sizeof(t)
		return err == nil && size <= 16
	}
	return false
}

// argOf describes the value of type t in context slot slot, or returns
// *probe.Error when ebtrace cannot read it; what names it in messages.
func argOf(t btf.Type, slot int, what string) (probe.Arg, error) {
	off := 8 * slot
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		if loadable(u.Size) {
			return probe.Arg{Type: types.IntOf(int(u.Size), u.Encoding&btf.Signed != 0), Offset: off}, nil
		}
	case *btf.Enum:
		if loadable(u.Size) {
			return probe.Arg{Type: types.IntOf(int(u.Size), u.Signed), Offset: off}, nil
		}
	case *btf.Pointer:
		return probe.Arg{Type: types.Pointer(cDecl(btf.QualifiedType(u.Target)), space(u.Target)), Load: probe.ReadCopy(off), Offset: off, Typed: true}, nil
	}
	kind := "a " + cDecl(t)
	switch btf.UnderlyingType(t).(type) {
	case *btf.Struct, *btf.Union:
		kind += " passed by value"
	}
	return probe.Arg{}, &probe.Error{Msg: fmt.Sprintf("%s is %s, which ebtrace cannot read yet", what, kind)}
}

// loadable reports whether one BPF load reads an integer of size bytes.
func loadable(size uint32) bool { return size == 1 || size == 2 || size == 4 || size == 8 }

// slotArg is argN for a function with params: slot n, which one of
// params occupies, as a plain 64-bit number.
func slotArg(params []param, n int) probe.Arg {
	for j := len(params) - 1; j > 0; j-- {
		if params[j].Slot <= n {
			return rawSlot(params[j].Type, n)
		}
	}
	return rawSlot(params[0].Type, n)
}

// rawSlot is argN: the 64-bit context slot n as a plain number, whatever
// the type of the parameter t that occupies it.
func rawSlot(t btf.Type, slot int) probe.Arg {
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		if u.Size <= 8 {
			return probe.Arg{Type: types.UInt64, Offset: 8 * slot}
		}
	case *btf.Enum, *btf.Struct, *btf.Union:
		return probe.Arg{Type: types.UInt64, Offset: 8 * slot}
	}
	return probe.Arg{Type: types.UInt64, Load: probe.ReadCopy(8 * slot)}
}

// space is the address space a pointer to t points into: user memory when
// the kernel's BTF tags it __user (clang-built kernels), else the kernel.
func space(t btf.Type) types.AddrSpace {
	for {
		switch q := t.(type) {
		case *btf.TypeTag:
			if q.Value == "user" {
				return types.User
			}
			t = q.Type
		case *btf.Const:
			t = q.Type
		case *btf.Volatile:
			t = q.Type
		case *btf.Restrict:
			t = q.Type
		default:
			return types.Kernel
		}
	}
}

// cDecl renders t as C writes it in a declaration without a name:
// "struct file *", "const char *", "int (*)(void *, int)".
func cDecl(t btf.Type) string {
	switch t := t.(type) {
	case *btf.Void:
		return "void"
	case *btf.Int, *btf.Typedef, *btf.Float:
		return t.TypeName()
	case *btf.Struct:
		return "struct " + orAnon(t.Name)
	case *btf.Union:
		return "union " + orAnon(t.Name)
	case *btf.Enum:
		return "enum " + orAnon(t.Name)
	case *btf.Fwd:
		return t.Kind.String() + " " + t.Name
	case *btf.Pointer:
		if fp, ok := btf.QualifiedType(t.Target).(*btf.FuncProto); ok {
			return cDecl(fp.Return) + " (*)(" + paramList(fp) + ")"
		}
		inner := cDecl(t.Target)
		if strings.HasSuffix(inner, "*") {
			return inner + "*"
		}
		return inner + " *"
	case *btf.Const:
		return qualify("const", cDecl(t.Type))
	case *btf.Volatile:
		return qualify("volatile", cDecl(t.Type))
	case *btf.Restrict:
		return qualify("restrict", cDecl(t.Type))
	case *btf.TypeTag:
		return cDecl(t.Type)
	case *btf.Array:
		return fmt.Sprintf("%s[%d]", cDecl(t.Type), t.Nelems)
	case *btf.FuncProto:
		return cDecl(t.Return) + " (" + paramList(t) + ")"
	}
	return t.TypeName()
}

// qualify puts a qualifier where C reads it: before a base type, after
// the star of a pointer.
func qualify(q, inner string) string {
	if strings.HasSuffix(inner, "*") {
		return inner + " " + q
	}
	return q + " " + inner
}

func paramList(fp *btf.FuncProto) string {
	var ps []string
	for _, p := range fp.Params {
		if _, ok := p.Type.(*btf.Void); ok {
			ps = append(ps, "...")
			continue
		}
		ps = append(ps, cDecl(p.Type))
	}
	return strings.Join(ps, ", ")
}

func orAnon(name string) string {
	if name == "" {
		return "(anon)"
	}
	return name
}
