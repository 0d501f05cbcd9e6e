package funcs

import (
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// debugf formats in the kernel, with bpf_trace_printk (up to three values)
// or bpf_trace_vprintk (up to twelve, Linux 5.16): the line goes to the
// kernel's trace buffer (/sys/kernel/tracing/trace_pipe), not to ebtrace's
// output. The kernel takes a subset of printf's conversions, checked here
// because the kernel would only drop the line at run time.
var debugf = Func{
	Name: "debugf", Min: 1, Max: 1 + maxDebugfValues, Doc: "prints formatted text to the kernel's trace buffer (trace_pipe), with bpf_trace_printk",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		lit, ok := literal(c, e, 0, "its format", `debugf("pid %d\n", pid)`)
		if !ok {
			for _, a := range e.Args[1:] {
				c.Expr(a)
			}
			return types.None
		}
		f, err := printf.Parse(lit.Value)
		if err != nil {
			FormatError(c, lit, err, "printf")
			for _, a := range e.Args[1:] {
				c.Expr(a)
			}
			return types.None
		}
		verbs := f.Verbs()
		for _, v := range verbs {
			if why := kernelVerb(v); why != "" {
				c.Errorf(lit.ValueSpan(c.File(), v.Offset, v.End), "printf", "debugf() formats in the kernel, which %s", why).
					Hint("the kernel takes %%d %%i %%u %%x %%X (with l or ll), %%s, %%c and %%p, with the flags - + 0 and space and a width")
			}
		}
		for i, a := range e.Args[1:] {
			t, reported := c.ExprReported(a)
			switch {
			case reported || t.Kind == types.Void:
			case t.Kind != types.Str && !t.IsInt():
				c.Errorf(a.Span(), "printf", "debugf() cannot format %s: the kernel prints only integers and strings", t).
					Hint("printf() prints every value")
			case i >= len(verbs):
			case verbs[i].WantsString() && t.Kind != types.Str:
				c.Errorf(a.Span(), "printf", "%%s needs a string, but this is %s", t).Hint("use %%d for integers, or str() to read a string")
			case !verbs[i].WantsString() && t.Kind == types.Str:
				c.Errorf(a.Span(), "printf", "%%%c needs an integer, but this is %s", verbs[i].Conv, t).Hint("use %%s for strings")
			}
		}
		if n := len(e.Args) - 1; n != len(verbs) {
			c.Errorf(e.Sp, "printf", "the format has %d conversion(s) but %d argument(s) follow", len(verbs), n)
		}
		return types.None
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		values := e.Args[1:]
		var data int16
		if len(values) > 0 {
			data = g.Alloc(8 * len(values))
		}
		for i, a := range values {
			slot := data + int16(8*i)
			if g.Type(a).Kind == types.Str {
				// The kernel reads %s through a pointer: the string's
				// place in the frame.
				off, _ := g.Str(a)
				g.StackPtr(asm.R0, off)
			} else {
				g.Int(a)
			}
			g.Emit(asm.StoreMem(asm.R10, slot, asm.R0, asm.DWord))
		}
		format, size := g.Str(e.Args[0])
		g.StackPtr(asm.R1, format)
		g.Emit(asm.Mov.Imm(asm.R2, int32(size)))
		fn := asm.FnTracePrintk
		if len(values) > maxPrintkValues {
			fn = asm.FnTraceVprintk
			g.StackPtr(asm.R3, data)
			g.Emit(asm.Mov.Imm(asm.R4, int32(8*len(values))))
		} else {
			for i := range values {
				g.Emit(asm.LoadMem(asm.R3+asm.Register(i), asm.R10, data+int16(8*i), asm.DWord))
			}
		}
		g.Emit(fn.Call())
		g.CheckHelper(fn)
	},
}

// The kernel's limits on the values one line formats: bpf_trace_printk
// takes three after its format and size, bpf_trace_vprintk an array of
// twelve (MAX_BPRINTF_VARARGS).
const (
	maxPrintkValues = 3
	maxDebugfValues = 12
)

// kernelVerb says what the kernel's bpf_trace_printk lacks to print v
// (completing "the kernel ..."), or "" when it prints it.
func kernelVerb(v printf.Verb) string {
	switch {
	case v.Conv == 'o' || v.Conv == 'r' || v.WantsGFP():
		return "has no " + v.Name()
	case v.Prec >= 0:
		return "takes no precision"
	case strings.Contains(v.Flags, "#"):
		return "takes no '#' flag"
	case v.Length != "" && v.Length != "l" && v.Length != "ll":
		return "takes no length " + v.Length + " (only l and ll)"
	}
	return ""
}
