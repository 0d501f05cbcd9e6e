package funcs

import (
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// uptr and kptr say which address space a pointer or an address points
// into, so that str(), * and the member operators read it with the right
// helper. An integer becomes a pointer to a 64-bit integer there.

var uptr = Func{
	Name: "uptr", Min: 1, Max: 1, Doc: "a pointer or address, marked as pointing into user memory",
	Check: func(c Checker, e *syntax.CallExpr) types.Type { return inSpace(c, e, types.User) },
	Int:   argValue,
}

var kptr = Func{
	Name: "kptr", Min: 1, Max: 1, Doc: "a pointer or address, marked as pointing into kernel memory",
	Check: func(c Checker, e *syntax.CallExpr) types.Type { return inSpace(c, e, types.Kernel) },
	Int:   argValue,
}

func inSpace(c Checker, e *syntax.CallExpr, space types.AddrSpace) types.Type {
	t, reported := c.ExprReported(e.Args[0])
	switch {
	case t.Kind == types.Ptr:
		t.AddrSpace = space
		return t
	case t.IsInt():
		return types.Pointer("int64", space)
	case !reported:
		c.Errorf(e.Args[0].Span(), "type", "%s() needs a pointer or an address, not %s", e.Fun, t)
	}
	return types.Pointer("int64", space)
}
