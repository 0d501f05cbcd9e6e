// Package types owns the script-level types of the bpftrace language and
// their sizes in BPF memory: integers of each width and sign, fixed-size
// strings, pointers tagged with their address space, and the no-value type
// of statements such as printf.
package types

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is the broad class of a type.
type Kind int

const (
	Void   Kind = iota // no value: printf(), exit(), ...
	Int                // integer; Size and Signed give its width and sign
	Str                // NUL-terminated string in a buffer of Size bytes
	Ptr                // address (Size 8) into AddrSpace; str() reads through it
	Sym                // code address printed as a symbol: Size 8 (kernel) or 16 (user: address, pid)
	Stack              // stack id printed as frames: Size 8 (kernel) or 16 (user: id, pid)
	Record             // a C struct or union in memory, named by Elem; Size bytes
	Array              // a C array in memory of Len elements of C type Elem; Size bytes
	Buf                // bytes printed hex-escaped (buf()): a length word, then Size bytes
	Time               // nanoseconds since boot printed as wall-clock time (strftime()): Size 8
	Text               // Size bytes that user space prints as text, as Render says: ntop(), username, ...
	Tuple              // fixed sequence of values laid out in slots; see Fields
	Bool               // true or false: Size 1, stored as a 64-bit 0 or 1; a number where one is needed
)

// AddrSpace says which probe-read helper reads through a pointer.
type AddrSpace int

const (
	Kernel AddrSpace = iota
	User
)

// Type is a script type. The zero value is Void.
type Type struct {
	Kind      Kind
	Size      int // bytes: 1, 2, 4, 8 for Int; buffer capacity for Str
	Signed    bool
	AddrSpace AddrSpace // Ptr, Record, Array: the memory it points to or lies in
	// Elem is the C type name of a Ptr's pointee ("char"), a Record's
	// own ("struct task_struct") or an Array's element.
	Elem string
	Len  int // Array only
	// Stack only: how frames print ("bpftrace", "perf", "raw") and how
	// many are kept.
	StackMode  string
	StackDepth int
	// Time only: the strftime format the value prints with.
	TimeFormat string
	// Text only: how user space turns the bytes into text (see Rendered).
	Render string
	// Tuple only: the element types, interned so that Type stays
	// comparable with == (see TupleOf).
	fields *fieldList
	// Int only: the enum whose values it holds (see EnumOf), nil for
	// other integers.
	enum *enumDef
}

// Int64 and UInt64 are the types of arithmetic results.
var (
	Int64  = Type{Kind: Int, Size: 8, Signed: true}
	UInt64 = Type{Kind: Int, Size: 8}
	None   = Type{}
	// Boolean is the type of true, false, comparisons and yes/no functions.
	Boolean = Type{Kind: Bool, Size: 1}
)

// IntOf returns the integer type of a given width and sign.
func IntOf(size int, signed bool) Type { return Type{Kind: Int, Size: size, Signed: signed} }

// String returns a string type with a buffer of size bytes.
func String(size int) Type { return Type{Kind: Str, Size: size} }

// Pointer returns a pointer to elem in the given address space.
func Pointer(elem string, as AddrSpace) Type {
	return Type{Kind: Ptr, Size: 8, AddrSpace: as, Elem: elem}
}

// RecordOf returns the type of a struct or union in memory.
func RecordOf(name string, size int, as AddrSpace) Type {
	return Type{Kind: Record, Size: size, Elem: name, AddrSpace: as}
}

// ArrayOf returns the type of an array in memory.
func ArrayOf(elem string, n, size int, as AddrSpace) Type {
	return Type{Kind: Array, Size: size, Elem: elem, Len: n, AddrSpace: as}
}

// Symbol returns the type of a code address in as: ksym or usym. A user
// address carries the pid whose mappings resolve it.
func Symbol(as AddrSpace) Type {
	if as == User {
		return Type{Kind: Sym, Size: 16, AddrSpace: User}
	}
	return Type{Kind: Sym, Size: 8}
}

// StackOf returns the type of a kstack or ustack value.
func StackOf(as AddrSpace, mode string, depth int) Type {
	t := Type{Kind: Stack, Size: 8, AddrSpace: as, StackMode: mode, StackDepth: depth}
	if as == User {
		t.Size = 16
	}
	return t
}

// Buffer returns the type of buf(): at most size bytes.
func Buffer(size int) Type { return Type{Kind: Buf, Size: size} }

// Timestamp returns the type of strftime(format, nsecs).
func Timestamp(format string) Type { return Type{Kind: Time, Size: 8, TimeFormat: format} }

// Renderers of Text values; the bytes each one holds.
const (
	RenderInet       = "inet"         // 8-byte address family, then 16 bytes of address: ntop()
	RenderMAC        = "macaddr"      // 6 bytes: macaddr()
	RenderUser       = "username"     // 8-byte uid
	RenderErrno      = "strerror"     // 8-byte errno
	RenderSyscall    = "syscall_name" // 8-byte syscall number
	RenderCgroupPath = "cgroup_path"  // 8-byte cgroup id
)

// Rendered returns the type of a value user space prints with render.
func Rendered(render string) Type {
	size := map[string]int{RenderInet: 24, RenderMAC: 8}[render]
	if size == 0 {
		size = 8
	}
	return Type{Kind: Text, Size: size, Render: render}
}

// IsInt reports whether t is used as a number: integers, pointers and
// bools.
func (t Type) IsInt() bool { return t.Kind == Int || t.Kind == Ptr || t.Kind == Bool }

// Same reports whether a and b are interchangeable as map keys or values:
// integers of any width match each other, strings of any size match.
func Same(a, b Type) bool {
	switch {
	case a.IsInt() && b.IsInt():
		return true
	case a.Kind == Sym || a.Kind == Stack || a.Kind == Record || a.Kind == Array || a.Kind == Time || a.Kind == Text:
		return a == b
	case a.Kind == Tuple && b.Kind == Tuple:
		fa, fb := a.Fields(), b.Fields()
		if len(fa) != len(fb) || !slices.Equal(a.Names(), b.Names()) {
			return false
		}
		for i := range fa {
			if !Same(fa[i], fb[i]) {
				return false
			}
		}
		return true
	}
	return a.Kind == b.Kind
}

func (t Type) String() string {
	switch t.Kind {
	case Int:
		if t.enum != nil {
			return t.enum.name
		}
		if t.Signed {
			return fmt.Sprintf("int%d", t.Size*8)
		}
		return fmt.Sprintf("uint%d", t.Size*8)
	case Str:
		return fmt.Sprintf("string[%d]", t.Size)
	case Ptr:
		return t.Elem + " *"
	case Record:
		return t.Elem
	case Array:
		return fmt.Sprintf("%s[%d]", t.Elem, t.Len)
	case Sym:
		if t.AddrSpace == User {
			return "usym"
		}
		return "ksym"
	case Stack:
		if t.AddrSpace == User {
			return "ustack"
		}
		return "kstack"
	case Buf:
		return fmt.Sprintf("buffer[%d]", t.Size)
	case Time:
		return fmt.Sprintf("timestamp(%q)", t.TimeFormat)
	case Text:
		return t.Render
	case Bool:
		return "bool"
	case Tuple:
		parts := make([]string, len(t.fields.types))
		for i, f := range t.fields.types {
			parts[i] = f.String()
			if t.fields.names != nil {
				parts[i] = t.fields.names[i] + "=" + parts[i]
			}
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return "none"
}

// MarshalText shows a type as the script would name it in dumps.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Align8 rounds n up to a multiple of 8: BPF stack stores must be aligned.
func Align8(n int) int { return (n + 7) &^ 7 }
