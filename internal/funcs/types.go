package funcs

import (
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Questions about an expression's type, answered when the script
// compiles: true or false. The expression is not evaluated.

var isInteger = typeQuestion("is_integer", "whether an expression is an integer", func(t types.Type, _ syntax.Expr) bool { return t.Kind == types.Int })

var isUnsigned = typeQuestion("is_unsigned_integer", "whether an expression is an unsigned integer", func(t types.Type, _ syntax.Expr) bool {
	return t.Kind == types.Int && !t.Signed
})

var isPtr = typeQuestion("is_ptr", "whether an expression is a pointer", func(t types.Type, _ syntax.Expr) bool { return t.Kind == types.Ptr })

var isStr = typeQuestion("is_str", "whether an expression is a string", func(t types.Type, _ syntax.Expr) bool { return t.Kind == types.Str })

var isArray = typeQuestion("is_array", "whether an expression is an array", func(t types.Type, _ syntax.Expr) bool { return t.Kind == types.Array })

var isLiteral = typeQuestion("is_literal", "whether an expression is a literal: 1, \"hello\", true", func(_ types.Type, e syntax.Expr) bool {
	switch e := e.(type) {
	case *syntax.IntLit, *syntax.StringLit:
		return true
	case *syntax.Ident:
		return e.Name == "true" || e.Name == "false"
	}
	return false
})

func typeQuestion(name, doc string, answer func(types.Type, syntax.Expr) bool) Func {
	return Func{
		Name: name, Min: 1, Max: 1, Doc: doc,
		Check: func(c Checker, e *syntax.CallExpr) types.Type {
			var v uint64
			if answer(c.Expr(e.Args[0]), e.Args[0]) {
				v = 1
			}
			c.SetConst(e, v)
			return types.Boolean
		},
		Int: loadConst,
	}
}

// strcap is the capacity of a string: the bytes its buffer holds, which
// bounds a search without scanning it.
var strcap = Func{
	Name: "strcap", Min: 1, Max: 1, Doc: "the capacity of a string's buffer, known when the script compiles",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		t, reported := c.ExprReported(e.Args[0])
		switch {
		case t.Kind == types.Str || t.Kind == types.Array:
			c.SetConst(e, uint64(t.Size))
		case !reported:
			c.Errorf(e.Args[0].Span(), "type", "strcap() needs a string or an array, not %s", t)
		}
		return types.Int64
	},
	Int: loadConst,
}
