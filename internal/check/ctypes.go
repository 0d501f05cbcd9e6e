package check

import (
	"errors"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/cdecl"
	"github.com/ebtrace/ebtrace/internal/corerelo"
	"github.com/ebtrace/ebtrace/internal/preprocess"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Layout is how codegen addresses a C value: a member's place in its
// container, the element size of an index or pointer step, or the value of
// sizeof and offsetof.
type Layout struct {
	Offset int // a member's bytes from its container; a constant's value
	Size   int // bytes a member read covers; an element's size
	// LShift and RShift extract a bitfield from the 64-bit value read.
	LShift, RShift int
	// Reloc is set for kernel types: the constant is relocated at load
	// time against the target kernel. Codegen derives each instruction's
	// relocation kind from it.
	Reloc *corerelo.Relocation
}

// HeaderDirs are searched for #include <FILE>, here and by the
// preprocessor that reads the same headers' macros.
var HeaderDirs = []string{"/usr/include", "/usr/local/include", "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu"}

// declare reads the script's includes and its struct and enum definitions.
func (c *checker) declare(prog *syntax.Program) {
	for _, inc := range prog.Includes {
		c.include(inc, prog.File)
	}
	report := func(n syntax.Node, hint, format string, args ...any) {
		c.errorf(n.Span(), "type", format, args...).Hint("%s", hint)
	}
	// Enums first: a struct member may have an enum's type.
	c.types.DeclareEnums(prog.Enums, report)
	c.types.Declare(prog.Structs, report)
}

// include declares the structs of a header that the script's own syntax
// can hold; definitions it cannot read (or whose member types are unknown)
// are skipped, and kernel BTF still offers the kernel's own.
func (c *checker) include(inc *syntax.Include, script *source.File) {
	found, text, searched := preprocess.ReadHeader(inc.Path, inc.System, script.Name, HeaderDirs)
	if found == "" {
		c.errorf(inc.Sp, "include", "cannot find %s in %s", inc.Path, strings.Join(searched, ", ")).
			Hint("kernel structs need no header: their types come from the kernel's BTF")
		return
	}
	decls := syntax.ParseHeader(source.NewFile(inc.Path, string(text)))
	var bad []*syntax.StructDecl
	c.types.Declare(decls, func(n syntax.Node, _, _ string, _ ...any) {
		for _, d := range decls {
			if d.Sp.Start <= n.Span().Start && n.Span().End <= d.Sp.End {
				bad = append(bad, d)
			}
		}
	})
	c.types.Forget(bad)
}

// lookup resolves a type name written in the script, reporting failures.
func (c *checker) lookup(tn *syntax.TypeName) (btf.Type, bool) {
	typ, err := c.types.Lookup(tn.Name)
	if err != nil {
		d := c.errorf(tn.Sp, "unknown-type", "unknown type %s", tn.Name)
		if close := source.Closest(tn.Name, c.types.Names(), 3); len(close) > 0 {
			d.Hint("did you mean %s?", strings.Join(close, ", "))
		}
		if errors.Is(err, cdecl.ErrUnknown) && strings.HasPrefix(tn.Name, "struct ") {
			d.Hint("a struct comes from the kernel's BTF, or the script defines it: struct name { int field; ... }")
		}
		return nil, false
	}
	return typ, true
}

// defaultSpace is where a cast pointer points: user memory in probes on
// user-space code, kernel memory elsewhere.
func (c *checker) defaultSpace() types.AddrSpace {
	if _, ok := c.cur.Instance.(probe.UserSymbols); ok {
		return types.User
	}
	return types.Kernel
}

// cast types `(TYPE)X`.
func (c *checker) cast(e *syntax.CastExpr) types.Type {
	x, reported := c.exprReported(e.X)
	if e.Type.Of != nil {
		return c.typeofCast(e, x, reported)
	}
	if e.Type.Name == "bool" && e.Type.Ptr == 0 && !e.Type.Array {
		if !x.IsInt() && !reported {
			c.errorf(e.X.Span(), "type", "cannot cast %s to bool", x).Hint("only integers and pointers can be cast")
		}
		return types.Boolean
	}
	typ, ok := c.lookup(e.Type)
	if !ok {
		return types.None
	}
	switch {
	case e.Type.Array:
		return c.arrayCast(e, x, typ)
	case x.Kind == types.Array:
		return c.castFromArray(e, x, typ)
	}
	if x.Kind != types.Void && !x.IsInt() && !reported {
		c.errorf(e.X.Span(), "type", "cannot cast %s to %s", x, e.Type).Hint("only integers and pointers can be cast")
		return types.None
	}
	if e.Type.Ptr > 0 {
		space := c.defaultSpace()
		if x.Kind == types.Ptr {
			space = x.AddrSpace
		}
		return types.Pointer(c.types.Name(typ)+strings.Repeat(" *", e.Type.Ptr-1), space)
	}
	t, ok := c.types.ScriptType(typ, types.Kernel)
	if !ok || t.Kind != types.Int {
		c.errorf(e.Type.Sp, "type", "cannot cast to %s, which is not an integer type", e.Type).
			Hint("cast to a pointer instead: (%s *)", e.Type.Name)
		return types.None
	}
	return t
}

// pointee resolves what a pointer type points to.
func (c *checker) pointee(t types.Type, sp source.Span) (btf.Type, bool) {
	typ, err := c.types.Lookup(t.Elem)
	if err != nil {
		c.errorf(sp, "unknown-type", "cannot dereference a pointer to %s: neither the script nor the kernel's BTF defines it", t.Elem).
			Hint("cast it to a known type: (struct NAME *)ptr")
		return nil, false
	}
	if _, void := btf.UnderlyingType(typ).(*btf.Void); void {
		c.errorf(sp, "type", "cannot dereference a void pointer").Hint("cast it first: (struct NAME *)ptr or (uint64 *)ptr")
		return nil, false
	}
	return typ, true
}

// memoryType is the script type of a C value in memory, reported when a
// script cannot hold it.
func (c *checker) memoryType(typ btf.Type, as types.AddrSpace, sp source.Span) types.Type {
	t, ok := c.types.ScriptType(typ, as)
	if !ok {
		c.errorf(sp, "type", "cannot read a value of C type %s", c.types.Name(typ)).Hint("integers, pointers, strings (char arrays), structs and arrays can be read")
		return types.None
	}
	return t
}

// deref types `*X`.
func (c *checker) deref(e *syntax.UnaryExpr) types.Type {
	x, reported := c.exprReported(e.X)
	if x.Kind == types.Int && x.Size == 8 {
		// An address, as kaddr() gives: a 64-bit integer in the kernel,
		// as bpftrace reads it.
		x = types.Pointer("int64", types.Kernel)
		c.cur.Types[e.X] = x
	}
	if x.Kind != types.Ptr {
		if !reported && x.Kind != types.Void {
			c.errorf(e.Sp, "type", "cannot dereference %s, which is not a pointer", x).
				Hint("cast an address to a pointer first: *(uint32 *)addr")
		}
		return types.None
	}
	typ, ok := c.pointee(x, e.X.Span())
	if !ok {
		return types.None
	}
	n, _ := btf.Sizeof(typ)
	c.cur.Layouts[e] = Layout{Size: n}
	return c.memoryType(typ, x.AddrSpace, e.Sp)
}

// addressOf types `&X` for a value in memory.
func (c *checker) addressOf(e *syntax.UnaryExpr) types.Type {
	x, reported := c.exprReported(e.X)
	if reported || x.Kind == types.Void {
		return types.None
	}
	if !InMemory(e.X, c.cur) {
		c.errorf(e.Sp, "type", "& takes the address of a struct member, an array element or *pointer").
			Hint("scratch variables and maps have no address a probe can use")
		return types.None
	}
	return types.Pointer(c.cur.CNames[e.X], x.AddrSpace)
}

// InMemory reports whether e names a C value in memory, read through its
// address rather than computed.
func InMemory(e syntax.Expr, in *Instance) bool {
	switch e := e.(type) {
	case *syntax.FieldExpr:
		_, ok := in.Layouts[e]
		return ok
	case *syntax.IndexExpr:
		// An element of an array value is no more in memory than it is.
		return in.Types[e.X].Kind != types.Array || InMemory(e.X, in)
	case *syntax.UnaryExpr:
		return e.Op == "*"
	}
	return false
}

// typeofCast types `(typeof(y))x`: x converted to y's type, an integer,
// a bool or a pointer. y is not evaluated.
func (c *checker) typeofCast(e *syntax.CastExpr, x types.Type, reported bool) types.Type {
	t, ofReported := c.exprReported(e.Type.Of)
	switch {
	case reported || ofReported:
		return types.None
	case !t.IsInt():
		c.errorf(e.Type.Sp, "type", "cannot cast to typeof a value of type %s", t).
			Hint("typeof casts to an integer, bool or pointer type")
		return types.None
	case !x.IsInt():
		c.errorf(e.X.Span(), "type", "cannot cast %s to %s", x, t).Hint("only integers and pointers can be cast")
		return types.None
	}
	return t
}

// member types `X.NAME` and `X->NAME` on structs and unions, or on
// pointers to them.
func (c *checker) member(e *syntax.FieldExpr) types.Type {
	x, reported := c.exprReported(e.X)
	if reported || x.Kind == types.Void {
		return types.None
	}
	if names := x.Names(); names != nil && !e.Arrow {
		i := slices.Index(names, e.Name)
		if i < 0 {
			c.errorf(e.NameSp, "type", "the record has no field %s", e.Name).Hint("its fields: %s", strings.Join(names, ", "))
			return types.None
		}
		field := &syntax.TupleIndex{X: e.X, Index: i, IndexSp: e.NameSp}
		c.cur.Rewrites[e] = field
		return c.expr(field)
	}
	// The current dialect's . reads through a pointer, and -> is only its
	// older spelling: either reaches a member of a struct or of what a
	// pointer points to.
	if x.Kind != types.Ptr && x.Kind != types.Record {
		c.errorf(e.Span(), "type", "%s has no members: it is %s, not a struct", c.text(e.X), x).
			Hint("cast an address to a struct pointer first: ((struct NAME *)addr).%s", e.Name)
		return types.None
	}
	var rec btf.Type
	if x.Kind == types.Ptr {
		typ, ok := c.pointee(x, e.X.Span())
		if !ok {
			return types.None
		}
		rec = typ
	} else {
		typ, err := c.types.Lookup(x.Elem)
		if err != nil {
			return types.None
		}
		rec = typ
	}
	switch btf.UnderlyingType(rec).(type) {
	case *btf.Struct, *btf.Union:
	default:
		c.errorf(e.NameSp, "type", "%s is not a struct or union, so it has no member %s", c.types.Name(rec), e.Name)
		return types.None
	}
	f, err := corerelo.FindField(rec, []string{e.Name})
	if err != nil {
		d := c.errorf(e.NameSp, "unknown-field", "%s has no member %s", c.types.Name(rec), e.Name)
		names := cdecl.Members(rec)
		if close := source.Closest(e.Name, names, 3); len(close) > 0 {
			d.Hint("did you mean %s?", strings.Join(close, ", "))
		} else if len(names) > 0 && len(names) <= 30 {
			d.Hint("its members: %s", strings.Join(names, ", "))
		}
		return types.None
	}
	off, size, lshift, rshift, err := f.Layout()
	if err != nil {
		c.errorf(e.NameSp, "type", "cannot read %s: %v", e.Name, err)
		return types.None
	}
	l := Layout{Offset: off, Size: size, LShift: lshift, RShift: rshift}
	name := c.types.Name(btf.UnderlyingType(rec))
	switch {
	case x.Kind == types.Record && anonymous(rec):
		// A member of an anonymous struct is relocated along the path
		// from the nearest named container.
		if outer, ok := c.cur.Layouts[e.X]; ok && outer.Reloc != nil {
			path := append(append([]string(nil), outer.Reloc.Path...), e.Name)
			l.Reloc = &corerelo.Relocation{Root: outer.Reloc.Root, Path: path, From: len(outer.Reloc.Path)}
		}
	case c.types.Relocatable(name):
		l.Reloc = &corerelo.Relocation{Root: name, Path: []string{e.Name}}
	}
	c.cur.Layouts[e] = l
	c.cur.CNames[e] = c.types.Name(f.Type)
	return c.memoryType(f.Type, x.AddrSpace, e.Span())
}

// anonymous reports whether typ is a struct or union without a name.
func anonymous(typ btf.Type) bool {
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Struct:
		return t.Name == ""
	case *btf.Union:
		return t.Name == ""
	}
	return false
}

// index types `X[I]` on pointers and arrays.
func (c *checker) index(e *syntax.IndexExpr) types.Type {
	x, reported := c.exprReported(e.X)
	if i, r := c.exprReported(e.Index); !i.IsInt() && !r {
		c.errorf(e.Index.Span(), "type", "an index must be an integer, not %s", i)
	}
	if reported || x.Kind == types.Void {
		return types.None
	}
	elemName := x.Elem
	switch {
	case x.Kind == types.Str && InMemory(e.X, c.cur):
		elemName = "char" // a char array in memory
	case x.Kind != types.Ptr && x.Kind != types.Array:
		c.errorf(e.Sp, "type", "cannot index %s", x).Hint("[] indexes pointers and arrays; a map is read as @name[key]")
		return types.None
	}
	elem, err := c.types.Lookup(elemName)
	if err != nil {
		c.errorf(e.X.Span(), "unknown-type", "unknown element type %s", x.Elem)
		return types.None
	}
	n, err := btf.Sizeof(elem)
	if err != nil || n == 0 {
		c.errorf(e.X.Span(), "type", "cannot index %s: its elements have no size", x).Hint("cast it first: ((uint64 *)ptr)[i]")
		return types.None
	}
	c.cur.Layouts[e] = Layout{Size: n}
	c.cur.CNames[e] = elemName
	if x.Kind == types.Array && !InMemory(e.X, c.cur) {
		c.indexBounds(e, x)
	}
	return c.memoryType(elem, x.AddrSpace, e.Sp)
}

// sizeof types sizeof(TYPE) and sizeof(X): a constant, relocated for
// kernel structs.
func (c *checker) sizeof(e *syntax.SizeofExpr) types.Type {
	name := e.Type
	if id, ok := e.X.(*syntax.Ident); ok && c.isTypeName(id.Name) {
		// sizeof(pid_t): a typedef name parses as an identifier. The
		// layout stays keyed by e, the node codegen looks up.
		name = &syntax.TypeName{Name: id.Name, Sp: id.Sp}
	} else if e.X != nil {
		x, reported := c.exprReported(e.X)
		if x.Kind == types.Void {
			if !reported {
				c.errorf(e.X.Span(), "type", "this expression has no size")
			}
			return types.UInt64
		}
		c.cur.Layouts[e] = Layout{Offset: x.Size}
		if x.Kind == types.Record && c.types.Relocatable(x.Elem) {
			c.cur.Layouts[e] = Layout{Offset: x.Size, Reloc: &corerelo.Relocation{Kind: corerelo.TypeSize, Root: x.Elem}}
		}
		return types.UInt64
	}
	typ, ok := c.lookup(name)
	if !ok {
		return types.UInt64
	}
	n, err := btf.Sizeof(typ)
	if name.Ptr > 0 {
		n, err = 8, nil
	}
	if err != nil {
		c.errorf(name.Sp, "type", "%s has no size", name)
		return types.UInt64
	}
	l := Layout{Offset: n}
	if record := c.types.Name(btf.UnderlyingType(typ)); name.Ptr == 0 && c.types.Relocatable(record) {
		switch btf.UnderlyingType(typ).(type) {
		case *btf.Struct, *btf.Union:
			l.Reloc = &corerelo.Relocation{Kind: corerelo.TypeSize, Root: record}
		}
	}
	c.cur.Layouts[e] = l
	return types.UInt64
}

// isTypeName reports whether an identifier names a type rather than a
// value.
func (c *checker) isTypeName(name string) bool {
	if _, builtin := builtins[name]; builtin || name == "args" {
		return false
	}
	_, err := c.types.Lookup(name)
	return err == nil
}

// offsetof types offsetof(TYPE, a.b): a constant, relocated for kernel
// structs.
func (c *checker) offsetof(e *syntax.OffsetofExpr) types.Type {
	typ, ok := c.lookup(e.Type)
	if !ok {
		return types.UInt64
	}
	f, err := corerelo.FindField(typ, e.Fields)
	if err != nil {
		d := c.errorf(e.Sp, "unknown-field", "%s has no member %s", e.Type, strings.Join(e.Fields, "."))
		if close := source.Closest(e.Fields[0], cdecl.Members(typ), 3); len(close) > 0 {
			d.Hint("did you mean %s?", strings.Join(close, ", "))
		}
		return types.UInt64
	}
	if f.BitSize > 0 {
		c.errorf(e.Sp, "type", "%s is a bitfield; it has no byte offset", strings.Join(e.Fields, "."))
		return types.UInt64
	}
	l := Layout{Offset: f.BitOffset / 8}
	if name := c.types.Name(btf.UnderlyingType(typ)); c.types.Relocatable(name) {
		l.Reloc = &corerelo.Relocation{Root: name, Path: e.Fields}
	}
	c.cur.Layouts[e] = l
	return types.UInt64
}

// pointerStep records the scale of `pointer ± integer`: C's, the size of
// the pointee (1 for void).
func (c *checker) pointerStep(e syntax.Expr, p types.Type) {
	n := 1
	if typ, err := c.types.Lookup(p.Elem); err == nil {
		if s, err := btf.Sizeof(typ); err == nil && s > 0 {
			n = s
		}
	}
	c.cur.Layouts[e] = Layout{Size: n}
}
