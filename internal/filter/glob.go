package filter

import "github.com/cilium/ebpf/asm"

// atom is one character position of a glob: a literal byte, '?' (any byte
// but NUL) or a [class].
type atom struct {
	kind    atomKind
	lit     byte
	ranges  [][2]byte // inclusive ranges of a class
	inverts bool      // [!...]
}

type atomKind int

const (
	literal atomKind = iota
	anyByte
	class
)

// globPattern is a glob split at its '*'s: segments[0] is anchored at the
// start unless the pattern starts with '*', the last segment at the end
// unless it ends with '*', and the ones between float.
type globPattern struct {
	segments            [][]atom
	leadStar, trailStar bool
	hasStar             bool
}

// globError says where (a byte offset into the pattern) a glob is malformed.
type globError struct {
	at  int
	msg string
}

// parseGlob parses a pattern with lib/glob.c's syntax: '*', '?', '[...]'
// with ranges a-b, a leading '!' inverting the class and a leading ']'
// taken literally, and '\' escaping the next byte.
func parseGlob(p string) (globPattern, *globError) {
	g := globPattern{segments: [][]atom{nil}}
	cur := &g.segments[0]
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*':
			g.hasStar = true
			if i == 0 {
				g.leadStar = true
			}
			if i == len(p)-1 {
				g.trailStar = true
			}
			g.segments = append(g.segments, nil)
			cur = &g.segments[len(g.segments)-1]
		case '?':
			*cur = append(*cur, atom{kind: anyByte})
		case '\\':
			if i == len(p)-1 {
				return g, &globError{i, `'\' at the end escapes nothing`}
			}
			i++
			*cur = append(*cur, atom{kind: literal, lit: p[i]})
		case '[':
			a, end, ok := parseClass(p, i+1)
			if !ok {
				return g, &globError{i, "'[' is never closed"}
			}
			*cur = append(*cur, a)
			i = end
		default:
			*cur = append(*cur, atom{kind: literal, lit: p[i]})
		}
	}
	return g, nil
}

// parseClass parses a class body starting at p[i] (after '['); it returns
// the atom and the index of the closing ']'.
func parseClass(p string, i int) (atom, int, bool) {
	a := atom{kind: class}
	if i < len(p) && p[i] == '!' {
		a.inverts = true
		i++
	}
	for first := true; i < len(p); first = false {
		if p[i] == ']' && !first {
			return a, i, true
		}
		lo, hi := p[i], p[i]
		if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
			hi = p[i+2]
			i += 2
		}
		a.ranges = append(a.ranges, [2]byte{lo, hi})
		i++
	}
	return a, 0, false
}

// matchGlob is regex_match_glob: glob_match(pattern, str) over the string
// up to its NUL. Segments between '*'s are matched at their leftmost
// position, which for globs without backreferences finds a match exactly
// when backtracking would.
func (c *compiler) matchGlob(p string, fail string) {
	g, _ := parseGlob(p)
	c.strlen(fail)
	first, last := g.segments[0], g.segments[len(g.segments)-1]
	if !g.hasStar {
		c.Emit(asm.JNE.Imm(endReg, int32(len(first)), fail))
	}
	c.Emit(asm.Mov.Imm(posReg, 0))
	if !g.leadStar {
		c.segmentAt(posReg, first, fail)
		c.Emit(asm.Mov.Imm(posReg, int32(len(first))))
	}
	if !g.hasStar {
		return
	}
	for _, seg := range g.segments[1 : len(g.segments)-1] {
		c.search(seg, fail)
	}
	if g.trailStar {
		return
	}
	// The last segment ends at the NUL and starts at or after pos.
	c.Emit(
		asm.Mov.Reg(asm.R2, posReg), asm.Add.Imm(asm.R2, int32(len(last))),
		asm.JGT.Reg(asm.R2, endReg, fail),
		asm.Mov.Reg(posReg, endReg), asm.Sub.Imm(posReg, int32(len(last))),
	)
	c.segmentAt(posReg, last, fail)
}

// strlen sets endReg to the index of the buffer's first NUL. A helper
// computes it, rather than a loop, so the verifier sees one unknown length
// instead of a state per possible length.
func (c *compiler) strlen(fail string) {
	c.Emit(
		asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, bufOff),
		asm.Mov.Imm(asm.R2, bufSize),
		asm.Mov.Reg(asm.R3, asm.R1),
		asm.FnProbeReadKernelStr.Call(),
		asm.JSLT.Imm(asm.R0, 1, fail),
		asm.Mov.Reg(endReg, asm.R0),
		asm.Sub.Imm(endReg, 1),
	)
}

// search finds seg's leftmost match at or after posReg, before the NUL, and
// moves posReg past it; no match jumps to fail.
func (c *compiler) search(seg []atom, fail string) {
	if len(seg) == 0 {
		return
	}
	loop, next, found := c.label(), c.label(), c.label()
	c.LoopHead(loop)
	c.Emit(asm.Mov.Reg(asm.R2, posReg), asm.Add.Imm(asm.R2, int32(len(seg))), asm.JGT.Reg(asm.R2, endReg, fail))
	c.segmentAt(posReg, seg, next)
	c.Emit(asm.Add.Imm(posReg, int32(len(seg))), asm.Ja.Label(found))
	c.Label(next)
	c.Emit(asm.Add.Imm(posReg, 1), asm.Ja.Label(loop))
	c.Label(found)
	c.forget(posReg)
}

// Two stack slots below the string buffer, for forget.
const (
	forgetSrc = bufOff - 8
	forgetDst = bufOff - 16
)

// forget copies reg through a helper, so that the verifier sees an unknown
// value instead of the exact position each path of a search loop ends
// with: without it, every later search is verified once per earlier
// outcome, and a glob with a few '*'s exceeds the verifier's budget.
// Users of reg check its bounds again anyway.
func (c *compiler) forget(reg asm.Register) {
	c.Emit(
		asm.StoreMem(asm.R10, forgetSrc, reg, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, forgetDst),
		asm.Mov.Imm(asm.R2, 8),
		asm.Mov.Reg(asm.R3, asm.R10), asm.Add.Imm(asm.R3, forgetSrc),
		asm.FnProbeReadKernel.Call(),
		asm.LoadMem(reg, asm.R10, forgetDst, asm.DWord),
	)
}

// segmentAt jumps to fail unless seg matches the buffer at offset reg.
func (c *compiler) segmentAt(reg asm.Register, seg []atom, fail string) {
	if len(seg) == 0 {
		return
	}
	c.bufferAt(reg, len(seg), fail)
	for i, a := range seg {
		c.byteAt(asm.R1, i)
		switch a.kind {
		case literal:
			c.Emit(asm.JNE.Imm(asm.R0, int32(a.lit), fail))
		case anyByte:
			c.Emit(asm.JEq.Imm(asm.R0, 0, fail))
		case class:
			c.classAt(a, fail)
		}
	}
}

// classAt jumps to fail unless R0 (not NUL) is in the class.
func (c *compiler) classAt(a atom, fail string) {
	in, out := c.label(), c.label()
	c.Emit(asm.JEq.Imm(asm.R0, 0, fail))
	for _, r := range a.ranges {
		skip := c.label()
		c.Emit(asm.JLT.Imm(asm.R0, int32(r[0]), skip), asm.JLE.Imm(asm.R0, int32(r[1]), in))
		c.Label(skip)
	}
	if a.inverts {
		c.Emit(asm.Ja.Label(out))
		c.Label(in)
		c.Emit(asm.Ja.Label(fail))
	} else {
		c.Emit(asm.Ja.Label(fail))
		c.Label(in)
	}
	c.Label(out)
	c.Emit(asm.Mov.Imm(asm.R0, 0))
}
