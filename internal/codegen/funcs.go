package codegen

import (
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// funcGen is what the code generation of package funcs sees of gen.
type funcGen struct{ g *gen }

var _ funcs.Generator = funcGen{}

func (f funcGen) Emit(ins ...asm.Instruction)               { f.g.Emit(ins...) }
func (f funcGen) Alloc(n int) int16                         { return f.g.alloc(n) }
func (f funcGen) NewLabel(what string) string               { return f.g.NewLabel(what) }
func (f funcGen) Label(name string)                         { f.g.Label(name) }
func (f funcGen) Type(e syntax.Expr) types.Type             { return f.g.typeOf(e) }
func (f funcGen) Const(e syntax.Expr) uint64                { return f.g.in.Consts[e] }
func (f funcGen) Int(e syntax.Expr)                         { f.g.intExpr(e) }
func (f funcGen) Str(e syntax.Expr) (int16, int)            { return f.g.strExpr(e) }
func (f funcGen) To(e syntax.Expr, dst int16, t types.Type) { f.g.valueTo(e, dst, t) }
func (f funcGen) LoadArg(a probe.Arg)                       { f.g.loadArg(a) }
func (f funcGen) Zero(off int16, n int)                     { f.g.zero(off, n) }
func (f funcGen) StackPtr(reg asm.Register, off int16)      { f.g.stackPtr(reg, off) }
func (f funcGen) CheckHelper(fn asm.BuiltinFunc)            { f.g.checkHelper(fn) }
func (f funcGen) Event(e *syntax.CallExpr, urgent bool)     { f.g.event(e, nil, urgent) }
func (f funcGen) Arg(e syntax.Expr) (probe.Arg, bool)       { a, ok := f.g.in.Args[e]; return a, ok }
func (f funcGen) TAIOffset(dst asm.Register)                { f.g.loadConfig(dst, plan.ConfigTAIOffset) }

func (f funcGen) KernelFunc(name string) btf.TypeID {
	if f.g.opts.KernelFunc == nil {
		f.g.diag.Add(f.g.Pos, "kernel", "kernel function %s: the target kernel is unknown", name)
		return 0
	}
	id, err := f.g.opts.KernelFunc(name)
	if err != nil {
		f.g.diag.Add(f.g.Pos, "kernel", "%v", err)
	}
	return id
}

func (f funcGen) Addr(e syntax.Expr) types.AddrSpace {
	f.g.addr(e)
	return f.g.space(e)
}

// libraryCall compiles a call of a library function of package funcs
// whose value is an integer or nothing.
func (g *gen) libraryCall(e *syntax.CallExpr) {
	if f, ok := funcs.Lookup(e.Fun); ok && f.Int != nil {
		f.Int(funcGen{g}, e)
	}
}

// libraryValue writes the value of a call of a library function of
// package funcs whose value is bytes at dst; false for the language's
// own. The frame at dst has room for the call's own type.
func (g *gen) libraryValue(e *syntax.CallExpr, dst int16) bool {
	f, ok := funcs.Lookup(e.Fun)
	if !ok || f.To == nil {
		return false
	}
	f.To(funcGen{g}, e, dst, g.typeOf(e))
	return true
}
