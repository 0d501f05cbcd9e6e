package funcs

import (
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// String functions. Strings are canonical buffers in the frame (zero from
// the first NUL on), so each function is a fixed, unrolled walk over bytes:
// the cost is known when the program is generated, and every jump goes
// forward.

// MaxCompare is the most bytes strncmp() compares: the longest string a
// script can hold (max_strlen's bound).
const MaxCompare = 1024

var strlen = Func{
	Name: "strlen", Min: 1, Max: 1, Doc: "the length of a string",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		wantString(c, e, 0)
		return types.Int64
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		off, _ := g.Str(e.Args[0])
		EmitStrlen(g, off, g.Type(e.Args[0]).Size)
	},
}

var strncmp = Func{
	Name: "strncmp", Min: 3, Max: 3, Doc: "0 when the first N bytes of two strings match, else 1",
	Check: compareStrings,
	// 0 when the first n bytes match up to a NUL both share, else 1.
	Int: func(g Generator, e *syntax.CallExpr) {
		compareBytes(g, e, true, asm.Mov.Imm(asm.R0, 1))
	},
}

var strcontains = Func{
	Name: "strcontains", Min: 2, Max: 2, Doc: "whether a string contains another",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		twoStrings(c, e)
		return types.Boolean
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		searchString(g, e, func(int) int32 { return 1 }, 0)
	},
}

var strftime = Func{
	Name: "strftime", Min: 2, Max: 2, Doc: "a time in nanoseconds since boot, printed as strftime(3) formats it",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		if t, reported := c.ExprReported(e.Args[1]); !t.IsInt() && !reported {
			c.Errorf(e.Args[1].Span(), "type", "strftime() needs a time in nanoseconds since boot, not %s", t).Hint("for example strftime(\"%%H:%%M:%%S\", nsecs)")
		}
		lit, ok := literal(c, e, 0, "its format", `strftime("%H:%M:%S", nsecs)`)
		if !ok {
			return types.Timestamp("")
		}
		checkTimeFormat(c, lit, "strftime")
		return types.Timestamp(lit.Value)
	},
	// The value is the time; user space formats it.
	Int: func(g Generator, e *syntax.CallExpr) { g.Int(e.Args[1]) },
}

// DefaultTimeFormat is what time() prints without a format, as bpftrace.
const DefaultTimeFormat = "%H:%M:%S\n"

var timeFunc = Func{
	Name: "time", Max: 1, Doc: "prints the wall-clock time, formatted as strftime(3)",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		if len(e.Args) == 0 {
			return types.None
		}
		lit, ok := literal(c, e, 0, "its format", `time("%H:%M:%S\n")`)
		if !ok {
			return types.None
		}
		checkTimeFormat(c, lit, "arguments")
		return types.None
	},
	Int: func(g Generator, e *syntax.CallExpr) { g.Event(e, false) },
}

// checkTimeFormat reports a strftime(3) format that user space cannot
// print, pointing into the literal where it can.
func checkTimeFormat(c Checker, lit *syntax.StringLit, code string) {
	if err := printf.CheckTime(lit.Value); err != nil {
		FormatError(c, lit, err, code).Hint("conversions: %s", printf.TimeConversions)
	}
}

// wantString types argument i of e, which must be a string.
func wantString(c Checker, e *syntax.CallExpr, i int) {
	if t, reported := c.ExprReported(e.Args[i]); t.Kind != types.Str && !reported {
		d := c.Errorf(e.Args[i].Span(), "type", "%s() needs a string, not %s", e.Fun, t)
		if t.IsInt() {
			d.Hint("str() reads the string a pointer points to: %s(str(p))", e.Fun)
		}
	}
}

// EmitStrlen leaves in r0 the length of the string in the buffer at off.
func EmitStrlen(g Generator, off int16, size int) {
	done := g.NewLabel("strlen")
	g.Emit(asm.Mov.Imm(asm.R0, 0))
	for i := 0; i < size; i++ {
		g.Emit(
			asm.LoadMem(asm.R1, asm.R10, off+int16(i), asm.Byte),
			asm.JEq.Imm(asm.R1, 0, done),
			asm.Add.Imm(asm.R0, 1),
		)
	}
	g.Label(done)
}

// loadByte loads byte i of the buffer at off (size bytes) into reg; past
// the buffer a canonical string holds zeros.
func loadByte(g Generator, reg asm.Register, off int16, size, i int) {
	if i >= size {
		g.Emit(asm.Mov.Imm(reg, 0))
		return
	}
	g.Emit(asm.LoadMem(reg, asm.R10, off+int16(i), asm.Byte))
}

// twoStrings is the type rule of a search of a string in another.
func twoStrings(c Checker, e *syntax.CallExpr) types.Type {
	wantString(c, e, 0)
	wantString(c, e, 1)
	return types.Int64
}

// compareStrings is the type rule of a comparison of two strings' first
// N bytes, N a literal.
func compareStrings(c Checker, e *syntax.CallExpr) types.Type {
	twoStrings(c, e)
	if lit, ok := e.Args[2].(*syntax.IntLit); !ok || lit.Value == 0 || lit.Value > MaxCompare {
		c.Expr(e.Args[2])
		c.Errorf(e.Args[2].Span(), "arguments", "%s() compares 1 to %d bytes, given as an integer literal", e.Fun, MaxCompare)
	}
	return types.Int64
}

// searchString looks for the needle (argument 1) in the haystack
// (argument 0), trying each start position in turn: at the first i where
// it occurs it leaves found(i) in r0, else missing. A literal needle is
// compared byte by byte against immediates, and ends with its last byte;
// another ends at its NUL.
func searchString(g Generator, e *syntax.CallExpr, found func(i int) int32, missing int32) {
	// The buffers' sizes from their types, not their whole words: a
	// canonical string's NUL lies within them.
	h, _ := g.Str(e.Args[0])
	hn := g.Type(e.Args[0]).Size
	absent, end := g.NewLabel("absent"), g.NewLabel("search")
	lit, literal := e.Args[1].(*syntax.StringLit)
	var needle string // a literal needle
	var n int16       // or the frame offset of another
	var nn int
	if literal {
		needle, _, _ = strings.Cut(lit.Value, "\x00")
		nn = len(needle)
		if nn == 0 {
			g.Emit(asm.Mov.Imm(asm.R0, found(0)), asm.Ja.Label(end))
		}
	} else {
		n, _ = g.Str(e.Args[1])
		nn = g.Type(e.Args[1]).Size
	}
	for i := 0; i < hn && nn > 0; i++ {
		next, at := g.NewLabel("next"), g.NewLabel("at")
		for j := 0; j < nn; j++ {
			if !literal {
				g.Emit(asm.LoadMem(asm.R2, asm.R10, n+int16(j), asm.Byte), asm.JEq.Imm(asm.R2, 0, at))
			}
			if i+j >= hn {
				g.Emit(asm.Ja.Label(absent))
				break
			}
			g.Emit(asm.LoadMem(asm.R1, asm.R10, h+int16(i+j), asm.Byte))
			if j == 0 {
				g.Emit(asm.JEq.Imm(asm.R1, 0, absent))
			}
			if literal {
				g.Emit(asm.JNE.Imm(asm.R1, int32(needle[j]), next))
			} else {
				g.Emit(asm.JNE.Reg(asm.R1, asm.R2, next))
			}
		}
		g.Label(at)
		g.Emit(asm.Mov.Imm(asm.R0, found(i)), asm.Ja.Label(end))
		g.Label(next)
	}
	g.Label(absent)
	g.Emit(asm.Mov.Imm(asm.R0, missing))
	g.Label(end)
}

var strstr = Func{
	Name: "strstr", Min: 2, Max: 2, Doc: "the index of a string's first occurrence in another, or -1",
	Check: twoStrings,
	Int: func(g Generator, e *syntax.CallExpr) {
		searchString(g, e, func(i int) int32 { return int32(i) }, -1)
	},
}

var memcmp = Func{
	Name: "memcmp", Min: 3, Max: 3, Doc: "compares the first N bytes of two strings: 0 when equal, else the difference of the first bytes that differ",
	Check: compareStrings,
	// Unlike strncmp, a NUL does not end the comparison.
	Int: func(g Generator, e *syntax.CallExpr) {
		compareBytes(g, e, false, asm.Mov.Reg(asm.R0, asm.R1), asm.Sub.Reg(asm.R0, asm.R2))
	},
}

// compareBytes compares the first N (argument 2) bytes of two strings,
// byte i of each in r1 and r2: 0 in r0 when they match (up to a NUL both
// share, when nul), else what differ computes.
func compareBytes(g Generator, e *syntax.CallExpr, nul bool, differ ...asm.Instruction) {
	a, an := g.Str(e.Args[0])
	b, bn := g.Str(e.Args[1])
	n := min(int(e.Args[2].(*syntax.IntLit).Value), max(an, bn))
	same, differs, end := g.NewLabel("same"), g.NewLabel("differ"), g.NewLabel(e.Fun)
	for i := 0; i < n; i++ {
		loadByte(g, asm.R1, a, an, i)
		loadByte(g, asm.R2, b, bn, i)
		g.Emit(asm.JNE.Reg(asm.R1, asm.R2, differs))
		if nul {
			g.Emit(asm.JEq.Imm(asm.R1, 0, same))
		}
	}
	g.Label(same)
	g.Emit(asm.Mov.Imm(asm.R0, 0), asm.Ja.Label(end))
	g.Label(differs)
	g.Emit(differ...)
	g.Label(end)
}
