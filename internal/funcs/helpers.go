package funcs

import (
	"errors"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Pieces the functions of this package share.

// literal is argument i of e, which must be a string literal: what it
// holds ("a symbol name") and an example of it, if any, say so otherwise.
func literal(c Checker, e *syntax.CallExpr, i int, what, example string) (*syntax.StringLit, bool) {
	lit, ok := e.Args[i].(*syntax.StringLit)
	if !ok {
		c.Expr(e.Args[i])
		d := c.Errorf(e.Args[i].Span(), "arguments", "%s() needs %s as a string literal", e.Fun, what)
		if example != "" {
			d.Hint("for example %s", example)
		}
		return nil, false
	}
	c.SetType(lit, types.String(len(lit.Value)+1))
	return lit, true
}

// argValue is the code of a function whose value is its first argument's,
// seen otherwise: ksym(addr) is the address, uptr(p) the pointer.
func argValue(g Generator, e *syntax.CallExpr) { g.Int(e.Args[0]) }

// typedPointerArg leaves pointer x in r1 for a helper that accepts only
// a typed pointer: a typed context argument is loaded from the context,
// where the verifier knows its type, not copied through r0.
func typedPointerArg(g Generator, x syntax.Expr) {
	if a, ok := g.Arg(x); ok && a.Typed {
		g.Emit(asm.LoadMem(asm.R1, asm.R6, int16(a.Offset), asm.DWord))
		return
	}
	g.Int(x)
	g.Emit(asm.Mov.Reg(asm.R1, asm.R0))
}

// noArguments is the type rule of a function of no argument whose value
// has type t.
func noArguments(t types.Type) func(Checker, *syntax.CallExpr) types.Type {
	return func(Checker, *syntax.CallExpr) types.Type { return t }
}

// helperValue is the code of a value one helper call without arguments
// returns.
func helperValue(fn asm.BuiltinFunc) func(Generator, *syntax.CallExpr) {
	return func(g Generator, _ *syntax.CallExpr) { g.Emit(fn.Call()) }
}

// loadConst loads the value the type rule resolved with SetConst.
func loadConst(g Generator, e *syntax.CallExpr) {
	g.Emit(asm.LoadImm(asm.R0, int64(g.Const(e)), asm.DWord))
}

// FormatError reports err, a malformed format string lit, under the
// verb it is about when it says which.
func FormatError(c Checker, lit *syntax.StringLit, err error, code string) *source.Diagnostic {
	sp := lit.Sp
	var pe *printf.Error
	if errors.As(err, &pe) {
		sp = lit.ValueSpan(c.File(), pe.Offset, pe.End)
	}
	d := c.Errorf(sp, code, "%s", err.Error())
	if pe != nil && pe.Hint != "" {
		d.Hint("%s", pe.Hint)
	}
	return d
}
