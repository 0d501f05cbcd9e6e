package funcs

import (
	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Functions the script's compilation answers or stops at: they compile
// to no code. A failing static_assert() or a fail() stops compilation
// only where it is reached: an if branch whose condition the script's
// text decides false (Checker.Fold) never is.

// foldHint says what a compile-time value may be made of.
const foldHint = "literals, positional parameters ($1, str($1), $#), enum constants and the operators over them are known when the script compiles; variables and maps are not"

var staticAssert = Func{
	Name: "static_assert", CompileTime: true, Min: 2, Max: 2, Doc: "stops compilation with a message unless a condition known when the script compiles holds",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		t, reported := c.ExprReported(e.Args[0])
		msg, ok := literal(c, e, 1, "its message", `static_assert($# == 2, "two parameters")`)
		switch {
		case reported:
		case !t.IsInt():
			c.Errorf(e.Args[0].Span(), "type", "static_assert() needs a condition, an integer, not %s", t)
		default:
			v, known := c.Fold(e.Args[0])
			switch {
			case !known:
				c.Errorf(e.Args[0].Span(), "compile-time", "static_assert() needs a condition known when the script compiles").Hint(foldHint)
			case v == int64(0) && ok && !c.Unreachable():
				c.Errorf(e.Sp, "static-assert", "static assertion failed: %s", msg.Value)
			}
		}
		return types.None
	},
}

var fail = Func{
	Name: "fail", CompileTime: true, Min: 1, Max: 8, Doc: "stops compilation with a formatted message where it is reached; its values are known when the script compiles",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "its format", `fail("needs $1 > 1, not %d", $1)`)
		values := make([]any, len(e.Args)-1)
		known := true
		for i, a := range e.Args[1:] {
			t, reported := c.ExprReported(a)
			v, ok := c.Fold(a)
			if !ok && !reported {
				c.Errorf(a.Span(), "compile-time", "fail() formats only values known when the script compiles, not this %s", t).Hint(foldHint)
			}
			known = known && ok
			values[i] = v
		}
		if !ok {
			return types.None
		}
		f, err := printf.Parse(lit.Value)
		if err != nil {
			FormatError(c, lit, err, "printf")
			return types.None
		}
		verbs := f.Verbs()
		for i, v := range values {
			if i >= len(verbs) || v == nil {
				continue
			}
			if _, isStr := v.(string); isStr != verbs[i].WantsString() {
				c.Errorf(e.Args[i+1].Span(), "printf", "%s cannot format %s", verbs[i].Name(), c.Expr(e.Args[i+1]))
				known = false
			}
		}
		if len(values) != len(verbs) {
			c.Errorf(e.Sp, "printf", "the format has %d conversion(s) but %d argument(s) follow", len(verbs), len(values))
			return types.None
		}
		if known && !c.Unreachable() {
			c.Errorf(e.Sp, "fail", "%s", f.Render(values))
		}
		return types.None
	},
}

// charLike are the C names of the one-byte integers strings are made of.
var charLike = map[string]bool{
	"char": true, "signed char": true, "unsigned char": true, "int8": true, "uint8": true,
	"int8_t": true, "uint8_t": true, "__s8": true, "__u8": true, "s8": true, "u8": true,
}

var assertStr = Func{
	Name: "assert_str", CompileTime: true, Min: 1, Max: 1, Doc: "stops compilation unless a value is string-like: a string, or an array of or pointer to chars",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		t, reported := c.ExprReported(e.Args[0])
		if reported || c.Unreachable() {
			return types.None
		}
		switch t.Kind {
		case types.Str:
		case types.Array, types.Ptr:
			if !charLike[t.Elem] {
				what := map[types.Kind]string{types.Array: "arrays", types.Ptr: "pointers"}[t.Kind]
				c.Errorf(e.Args[0].Span(), "type", "string-like %s hold chars, not %s", what, t.Elem)
			}
		default:
			c.Errorf(e.Args[0].Span(), "type", "string-like values are strings, arrays of chars or pointers to chars, not %s", t)
		}
		return types.None
	},
}

// defaultStrLength is str()'s buffer size, max_strlen, NUL included.
var defaultStrLength = Func{
	Name: "default_str_length", Bare: true, Doc: "the size of str()'s buffer (max_strlen), known when the script compiles",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		c.SetConst(e, uint64(c.MaxStrlen()))
		return types.UInt64
	},
	Int: loadConst,
}
