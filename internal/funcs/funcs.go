// Package funcs is the one table of the functions a script can call.
//
// Every function has an entry here: its name, how many arguments it
// takes, whether it changes the system (--unsafe), and one line on what it
// does. A library function also carries its whole behaviour: its type rule
// (Check), its code generation (Int for a value in r0 or a statement, To
// for a value written as bytes) and, for a value user space prints as text,
// how those bytes print (Render). Adding one is a file in this package and
// a line in the table.
//
// The language's own functions (Core) are declared here too, so that
// names, argument counts and suggestions come from one place, but the
// passes compile them: they define maps (count(), hist(), ...), send the
// events the runtime prints (printf(), print(), exit(), ...) or read
// strings, buffers and stacks into the places the passes lay out.
//
// The passes reach a function's behaviour only through the Checker and
// Generator interfaces, so this package depends on no pass.
package funcs

import (
	"cmp"
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Func is one function a script can call.
type Func struct {
	Name     string
	Min, Max int // argument counts
	// Unsafe functions change the system; they need --unsafe.
	Unsafe bool
	// Core functions are compiled by the passes themselves (see the
	// package comment); they have no hooks.
	Core bool
	// Aggregation functions are assigned to a map: @x = count().
	Aggregation bool
	// Bare functions take no argument and may be written without
	// parentheses, as builtins are: rand or rand().
	Bare bool
	// Rewritten functions' type rules rewrite every call into an
	// expression of the language (Checker.Rewrite): they need no code
	// generation of their own.
	Rewritten bool
	// CompileTime functions act in their type rule alone (they stop
	// compilation or not): they compile to no code.
	CompileTime bool
	Doc         string

	// Check types a call whose argument count is right: it types the
	// arguments (every one, so that their errors are reported), reports
	// misuse, and returns the call's type.
	Check func(c Checker, e *syntax.CallExpr) types.Type
	// Int compiles a call whose value is an integer, left in r0, or that
	// is a statement.
	Int func(g Generator, e *syntax.CallExpr)
	// To compiles a call whose value is bytes (a string or Text): it
	// writes the value, of type t, at dst in the frame.
	To func(g Generator, e *syntax.CallExpr, dst int16, t types.Type)
	// Render is how user space prints the bytes of the Text values
	// called Text (the function's name when empty).
	Render func(b []byte) string
	Text   string
}

// Checker is what a type rule may ask of the type checker, about the
// call's probe and the expressions around it.
type Checker interface {
	// Expr types e and returns its type; ExprReported also says whether
	// an error about e was already reported (so no second one follows).
	Expr(e syntax.Expr) types.Type
	ExprReported(e syntax.Expr) (types.Type, bool)
	Errorf(sp source.Span, code, format string, args ...any) *source.Diagnostic
	// SetType types e, a literal argument the rule reads itself.
	SetType(e syntax.Expr, t types.Type)
	// SetConst gives call e a value known now, which Generator.Const
	// returns.
	SetConst(e syntax.Expr, v uint64)
	// SetArg makes e a value of the probe instance, loaded as a.
	SetArg(e syntax.Expr, a probe.Arg)
	// Learning is true in the checker's first pass over a probe, when
	// maps assigned later are not known yet: rules that look things up
	// in the system wait for the second.
	Learning() bool
	Instance() probe.Instance
	Env() *probe.Env
	// Addressable reports whether e is in memory (a tracepoint field or
	// a struct member), so its bytes can be read.
	Addressable(e syntax.Expr) bool
	// CType is the C type of e, which is in memory ("__u8[16]").
	CType(e syntax.Expr) string
	// File is the script, for spans inside literals.
	File() *source.File
	// Rewrite makes call e stand for expression x, which it types and
	// returns the type of: x is compiled in e's place.
	Rewrite(e *syntax.CallExpr, x syntax.Expr) types.Type
	// Option is the value of the named option --name=value among the
	// arguments after the script ("" for a bare --name), and whether it
	// was given.
	Option(name string) (string, bool)
	// Fold is the value of e, typed already, when the script's text
	// decides it (an int64 or a string): literals, positional
	// parameters and the operators over them (check's consteval.go).
	Fold(e syntax.Expr) (any, bool)
	// Unreachable reports whether the call is in an if branch that a
	// condition Fold decides rules out.
	Unreachable() bool
	// MaxStrlen is the size of str()'s buffer (max_strlen).
	MaxStrlen() int
	// Map is the shape of the whole map e names, as the script's
	// assignments made it; false, with an error at e after the first
	// pass, when none assigns it.
	Map(e *syntax.MapExpr) (MapShape, bool)
}

// MapShape is what a type rule may know of a map.
type MapShape struct {
	Kind  output.Kind
	Keyed bool
	Bits  int // hist(x, Bits)
}

// Generator is what code generation may ask of the code generator. r6
// holds the probe's context throughout.
type Generator interface {
	Emit(ins ...asm.Instruction)
	// Alloc reserves n bytes (whole words) of the frame.
	Alloc(n int) int16
	NewLabel(what string) string
	Label(name string)
	// Type is the checked type of e.
	Type(e syntax.Expr) types.Type
	// Const is what Checker.SetConst gave e.
	Const(e syntax.Expr) uint64
	// Int leaves the integer value of e in r0.
	Int(e syntax.Expr)
	// Str evaluates string e into the frame: its offset and size.
	Str(e syntax.Expr) (int16, int)
	// To writes the value of e, of type t, at dst.
	To(e syntax.Expr, dst int16, t types.Type)
	// Addr leaves the address of e, which is in memory, in r0; Space is
	// the address space it is in.
	Addr(e syntax.Expr) types.AddrSpace
	// Arg is the probe argument Checker.SetArg made e, if any.
	Arg(e syntax.Expr) (probe.Arg, bool)
	// LoadArg leaves the value of probe argument a in r0.
	LoadArg(a probe.Arg)
	// Zero clears n bytes of the frame at off.
	Zero(off int16, n int)
	StackPtr(reg asm.Register, off int16)
	// CheckHelper reports, under -k, a failure (r0 negative) of helper fn
	// just called.
	CheckHelper(fn asm.BuiltinFunc)
	// Event sends the event the plan made for call e.
	Event(e *syntax.CallExpr, urgent bool)
	// TAIOffset leaves in dst CLOCK_TAI minus CLOCK_BOOTTIME, as user
	// space measured it when tracing started; it calls no helper.
	TAIOffset(dst asm.Register)
	// KernelFunc is the BTF ID of a kernel function a kfunc call names;
	// when the kernel has none of that name it reports so at the call.
	KernelFunc(name string) btf.TypeID
}

// all is the table: one line per function.
var all = []*Func{
	// The language's own (core.go).
	&count, &sum, &avg, &minFunc, &maxFunc, &stats, &hist, &lhist, &tseries,
	&printfFunc, &errorf, &warnf, &system, &cat, &printFunc, &clear, &zero,
	&deleteFunc, &exit, &assert, &lenFunc, &hasKey, &find, &str, &buf, &join, &kstack, &ustack,
	// Library functions, each in its file.
	&strlen, &strncmp, &strcontains, &strftime, &timeFunc,
	&ksym, &usym, &kaddr, &uaddr,
	&ntop, &pton, &macaddr, &cgroupid, &strerror, &syscallName,
	&signal, &override, &path, &usermode, &kfuncAllowed,
	&bswap,
	&uptr,
	&kptr,
	&rand, &jiffies, &numaid, &ncpus,
	&signalThread,
	&strstr, &memcmp,
	&isInteger, &isUnsigned, &isPtr, &isStr, &isArray, &isLiteral, &strcap,
	&cgroupPath, &reg, &kfuncExist,
	&pcomm, &ppid, &hasCpid, &probetype,
	&nsecs, &getopt, &globmatch,
	&debugf,
	&staticAssert, &fail, &assertStr, &defaultStrLength,
	&pidFunc, &tidFunc, &commOf, &socketCookie,
	&heatmap,
}

var byName, byText = func() (map[string]*Func, map[string]*Func) {
	names, texts := make(map[string]*Func, len(all)), map[string]*Func{}
	for _, f := range all {
		names[f.Name] = f
		if f.Render != nil {
			texts[cmp.Or(f.Text, f.Name)] = f
		}
	}
	return names, texts
}()

// Lookup returns the function called name.
func Lookup(name string) (*Func, bool) {
	f, ok := byName[name]
	return f, ok
}

// Names returns the names of every function, sorted.
func Names() []string { return namesWhere(func(*Func) bool { return true }) }

// BareNames returns the names of the functions that may be written
// without parentheses, sorted.
func BareNames() []string { return namesWhere(func(f *Func) bool { return f.Bare }) }

// IsAggregation reports whether name is a function assigned to a map.
func IsAggregation(name string) bool {
	f, ok := byName[name]
	return ok && f.Aggregation
}

// UnsafeNames returns the names of the functions that need --unsafe,
// sorted.
func UnsafeNames() []string { return namesWhere(func(f *Func) bool { return f.Unsafe }) }

// namesWhere returns the sorted names of the functions keep accepts.
func namesWhere(keep func(*Func) bool) []string {
	var names []string
	for _, f := range all {
		if keep(f) {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	return names
}

// Render prints the bytes of a Text value whose Render is render; false
// when no function renders it.
func Render(render string, b []byte) (string, bool) {
	if f, ok := byText[render]; ok {
		return f.Render(b), true
	}
	return "", false
}
