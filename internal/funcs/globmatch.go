package funcs

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// maxGlobElems bounds a globmatch() pattern: the matcher keeps one bit
// per element, and one for the end, in a 64-bit register.
const maxGlobElems = 62

// globmatch matches a whole string against a literal wildcard pattern.
//
// The pattern is run as an automaton: bit s of r0 says that the string
// read so far can end just before element s. Each byte of the string, in
// an unrolled walk of its buffer, moves the bits forward where the
// element matches it; a '*' keeps its bit and also passes it on. The
// string matches when the bit after the last element is set at its NUL.
// The code is the buffer's size times the pattern's length, with forward
// jumps only, and needs no helper.
var globmatch = Func{
	Name: "globmatch", Min: 2, Max: 2, Doc: "whether a whole string matches a wildcard pattern: * ? [abc] [a-z] [!a]",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		wantString(c, e, 0)
		lit, ok := literal(c, e, 1, "its pattern", `globmatch(comm, "ba*")`)
		if !ok {
			return types.Boolean
		}
		elems, err := glob.Elems(lit.Value)
		switch {
		case err != nil:
			c.Errorf(lit.Sp, "arguments", "globmatch(): %v", err).Hint("%s", glob.Syntax)
		case len(elems) > maxGlobElems:
			c.Errorf(lit.Sp, "arguments", "globmatch() patterns have at most %d elements, this one %d", maxGlobElems, len(elems))
		}
		return types.Boolean
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		elems, _ := glob.Elems(e.Args[1].(*syntax.StringLit).Value)
		h, _ := g.Str(e.Args[0])
		hn := g.Type(e.Args[0]).Size
		end := g.NewLabel("glob_end")
		g.Emit(asm.Mov.Imm(asm.R0, 1))
		globClosure(g, elems)
		for i := 0; i < hn; i++ {
			g.Emit(asm.LoadMem(asm.R2, asm.R10, h+int16(i), asm.Byte), asm.JEq.Imm(asm.R2, 0, end))
			globStep(g, elems)
		}
		g.Label(end)
		// Matched: the bit after the last element.
		g.Emit(asm.RSh.Imm(asm.R0, int32(len(elems))), asm.And.Imm(asm.R0, 1))
	},
}

// globBit leaves in r3 bit s of the state in reg, or 0.
func globBit(g Generator, reg asm.Register, s int) {
	g.Emit(asm.Mov.Reg(asm.R3, reg), asm.RSh.Imm(asm.R3, int32(s)), asm.And.Imm(asm.R3, 1))
}

// globSet sets bit s of r1 (r4 is scratch).
func globSet(g Generator, s int) {
	g.Emit(asm.Mov.Imm(asm.R4, 1), asm.LSh.Imm(asm.R4, int32(s)), asm.Or.Reg(asm.R1, asm.R4))
}

// globStep moves the state in r0 past the byte in r2.
func globStep(g Generator, elems []glob.Elem) {
	g.Emit(asm.Mov.Imm(asm.R1, 0))
	for s, el := range elems {
		skip := g.NewLabel("glob_skip")
		globBit(g, asm.R0, s)
		g.Emit(asm.JEq.Imm(asm.R3, 0, skip))
		switch el.Kind {
		case glob.AnyRun:
			globSet(g, s)
		case glob.AnyOne:
			globSet(g, s+1)
		case glob.Literal:
			g.Emit(asm.JNE.Imm(asm.R2, int32(el.Byte), skip))
			globSet(g, s+1)
		case glob.Set:
			in := g.NewLabel("glob_in")
			for _, r := range el.Ranges {
				next := g.NewLabel("glob_range")
				g.Emit(asm.JLT.Imm(asm.R2, int32(r[0]), next), asm.JLE.Imm(asm.R2, int32(r[1]), in))
				g.Label(next)
			}
			if el.Negate {
				globSet(g, s+1)
				g.Emit(asm.Ja.Label(skip))
				g.Label(in)
			} else {
				g.Emit(asm.Ja.Label(skip))
				g.Label(in)
				globSet(g, s+1)
			}
		}
		g.Label(skip)
	}
	g.Emit(asm.Mov.Reg(asm.R0, asm.R1))
	globClosure(g, elems)
}

// globClosure passes each set bit of r0 on past the '*'s it stands
// before: a '*' may match no byte at all.
func globClosure(g Generator, elems []glob.Elem) {
	g.Emit(asm.Mov.Reg(asm.R1, asm.R0))
	for s, el := range elems {
		if el.Kind != glob.AnyRun {
			continue
		}
		skip := g.NewLabel("glob_eps")
		globBit(g, asm.R1, s)
		g.Emit(asm.JEq.Imm(asm.R3, 0, skip))
		globSet(g, s+1)
		g.Label(skip)
	}
	g.Emit(asm.Mov.Reg(asm.R0, asm.R1))
}
