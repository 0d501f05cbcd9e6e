package filter

import (
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/source"
)

// bufSize is the stack buffer a string field is copied into. Strings are
// compared on their first bufSize-1 bytes; the kernel's own filter reads
// more of a pointed-to string, so the two can differ only on longer
// strings.
const bufSize = 256

// bufOff is the buffer's offset from the frame pointer R10.
const bufOff = -bufSize

// Registers kept across helper calls while matching a string.
const (
	lenReg = asm.R7 // the kernel's "len" argument to its match functions
	posReg = asm.R8 // a search position
	endReg = asm.R9 // the string's length up to its NUL
)

// matchKind is how the kernel matches a string predicate: == and != compare
// fully, ~ patterns are sorted by where their '*'s are (see
// filter_parse_regex in the kernel) and anything else is a glob.
type matchKind int

const (
	matchFull matchKind = iota
	matchFront
	matchMiddle
	matchEnd
	matchGlob
)

// str compiles a string predicate: ==, != or ~ against a quoted value.
func (c *compiler) str(e *Expr, f field, yes, no string) {
	switch {
	case e.Op != Eq && e.Op != Ne && e.Op != Glob:
		c.errorf(e.OpSpan, "type-mismatch", "%s is a string (%s); strings compare with ==, != or ~, not %s", f.Name, f.Type, e.Op).
			Hint(`use ~ for a glob match, e.g. %s ~ "ba*"`, f.Name)
		return
	case !e.Quoted:
		c.errorf(e.ValueSpan, "type-mismatch", "%s is a string (%s): its value needs quotes", f.Name, f.Type).
			Hint(`write %s %s "%s"`, e.Field, e.Op, e.Value)
		return
	case f.kind == fixedStr && f.Size >= bufSize:
		c.errorf(e.FieldSpan, "unsupported-field", "%s is %s: filters compare char arrays of up to %d bytes", f.Name, f.Type, bufSize-1)
		return
	}
	pattern, kind, invert := e.Value, matchFull, e.Op == Ne
	if e.Op == Glob {
		pattern, kind, invert = classifyGlob(e.Value)
		if kind == matchGlob && !c.checkGlob(e, pattern) {
			return
		}
	}
	if len(pattern) >= bufSize {
		c.errorf(e.ValueSpan, "bad-string", "the string is %d bytes; filters compare up to %d", len(pattern), bufSize-1)
		return
	}
	// An unreadable char * makes the kernel's predicate false whatever
	// the operator, so it goes to no before any inversion.
	unreadable := no
	if invert {
		yes, no = no, yes
	}
	c.readString(e, f, unreadable)
	switch kind {
	case matchFull:
		c.matchFull(pattern, no)
	case matchFront:
		c.matchFront(pattern, no)
	case matchMiddle:
		c.matchMiddle(pattern, no)
	case matchEnd:
		c.matchEnd(pattern, no)
	default:
		c.matchGlob(pattern, no)
	}
	c.Emit(asm.Ja.Label(yes))
}

// classifyGlob sorts a ~ pattern as the kernel does: a leading '!' inverts
// the match; "*x" matches the end, "x*" the front, "*x*" the middle; a '*'
// elsewhere or any of "[?\" makes it a full glob.
func classifyGlob(p string) (string, matchKind, bool) {
	invert := strings.HasPrefix(p, "!")
	p = strings.TrimPrefix(p, "!")
	kind := matchFull
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '*' && i == 0:
			kind = matchEnd
		case p[i] == '*' && i == len(p)-1:
			if kind == matchEnd {
				kind = matchMiddle
			} else {
				kind = matchFront
			}
			p = p[:i]
		case p[i] == '*' || strings.IndexByte("[?\\", p[i]) >= 0:
			return p, matchGlob, invert
		}
	}
	if kind == matchEnd || kind == matchMiddle {
		p = p[1:]
	}
	return p, kind, invert
}

// checkGlob rejects the patterns the kernel would silently take literally:
// an unclosed '[' and a trailing '\'.
func (c *compiler) checkGlob(e *Expr, pattern string) bool {
	if _, err := parseGlob(pattern); err != nil {
		// The value's text starts after its quote and any '!'.
		start := e.ValueSpan.Start + 1 + source.Pos(len(e.Value)-len(pattern)) + source.Pos(err.at)
		c.errorf(source.Span{Start: start, End: start + 1}, "bad-glob", "malformed glob: %s", err.msg).
			Hint(`escape a literal [, *, ? or \ with a backslash, e.g. "a\[1\]"`)
		return false
	}
	return true
}

// readString copies the field into the buffer at bufOff and sets lenReg to
// the length the kernel's match functions receive: the array size for a
// char array or COMM, the __data_loc length, or strlen+1 for a char *.
func (c *compiler) readString(e *Expr, f field, unreadable string) {
	c.Emit(asm.Mov.Imm(asm.R0, 0))
	for off := int16(0); off < bufSize; off += 8 {
		c.Emit(asm.StoreMem(asm.R10, bufOff+off, asm.R0, asm.DWord))
	}
	c.Emit(asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, bufOff))
	switch f.kind {
	case commStr:
		c.Emit(asm.Mov.Imm(asm.R2, 16), asm.FnGetCurrentComm.Call(), asm.Mov.Imm(lenReg, 16))
	case fixedStr:
		c.Emit(
			asm.Mov.Imm(asm.R2, int32(f.Size)),
			asm.Mov.Reg(asm.R3, ctxReg), asm.Add.Imm(asm.R3, int32(f.Offset)),
			asm.FnProbeReadKernel.Call(),
			asm.Mov.Imm(lenReg, int32(f.Size)),
		)
	case dynStr:
		// The u32 holds length<<16 | offset; a __rel_loc offset counts
		// from the end of the field.
		c.Emit(
			asm.LoadMem(lenReg, ctxReg, int16(f.Offset), asm.Word),
			asm.Mov.Reg(asm.R3, lenReg), asm.And.Imm(asm.R3, 0xffff),
			asm.Add.Reg(asm.R3, ctxReg),
		)
		if f.RelLoc {
			c.Emit(asm.Add.Imm(asm.R3, int32(f.Offset+4)))
		}
		c.Emit(
			asm.RSh.Imm(lenReg, 16),
			asm.Mov.Imm(asm.R2, bufSize),
			asm.FnProbeReadKernelStr.Call(),
		)
	case ptrStr:
		reads := []asm.BuiltinFunc{asm.FnProbeReadKernelStr}
		switch {
		case e.Suffix == "ustring":
			reads = []asm.BuiltinFunc{asm.FnProbeReadUserStr}
		case c.readsUserPointers():
			// A user address fails as kernel memory; then it is read
			// as the user's, as this kernel's filter does.
			reads = append(reads, asm.FnProbeReadUserStr)
		}
		read := c.label()
		for i, fn := range reads {
			if i > 0 {
				c.Emit(asm.JSGE.Imm(asm.R0, 0, read), asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, bufOff))
			}
			c.Emit(
				asm.LoadMem(asm.R3, ctxReg, int16(f.Offset), asm.DWord),
				asm.Mov.Imm(asm.R2, bufSize),
				fn.Call(),
			)
		}
		c.Label(read)
		c.Emit(
			asm.JSLT.Imm(asm.R0, 0, unreadable),
			asm.Mov.Reg(lenReg, asm.R0),
		)
	}
}

// readsUserPointers asks opts.UserPointers, keeping the first error for
// Compile to return.
func (c *compiler) readsUserPointers() bool {
	if c.opts.UserPointers == nil {
		return false
	}
	yes, err := c.opts.UserPointers()
	if err != nil && c.probeErr == nil {
		c.probeErr = err
	}
	return yes
}

// byteAt loads buffer byte i, relative to base (a pointer into the buffer
// whose bounds the verifier knows), into R0.
func (c *compiler) byteAt(base asm.Register, i int) {
	c.Emit(asm.LoadMem(asm.R0, base, int16(i), asm.Byte))
}

// literalAt jumps to fail unless the buffer holds lit at base.
func (c *compiler) literalAt(base asm.Register, lit string, fail string) {
	for i := 0; i < len(lit); i++ {
		c.byteAt(base, i)
		c.Emit(asm.JNE.Imm(asm.R0, int32(lit[i]), fail))
	}
}

// bufferAt sets R1 to the buffer's address plus the offset in reg, which
// must be at most limit so that limit more bytes stay inside the buffer.
func (c *compiler) bufferAt(reg asm.Register, limit int, fail string) {
	c.Emit(
		asm.JGT.Imm(reg, int32(bufSize-limit), fail),
		asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, bufOff),
		asm.Add.Reg(asm.R1, reg),
	)
}

// matchFull is the kernel's regex_match_full: strncmp(str, p, len) == 0.
func (c *compiler) matchFull(p string, fail string) {
	c.Emit(asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, bufOff))
	for i := 0; i <= len(p); i++ {
		// strncmp stops comparing after len bytes: equal so far is equal.
		ok := c.label()
		c.Emit(asm.JLE.Imm(lenReg, int32(i), ok))
		c.byteAt(asm.R1, i)
		var want int32
		if i < len(p) {
			want = int32(p[i])
		}
		c.Emit(asm.JNE.Imm(asm.R0, want, fail))
		c.Label(ok)
	}
	c.Emit(asm.Mov.Imm(asm.R0, 0))
}

// matchFront is regex_match_front: len is at least len(p) and str starts
// with p.
func (c *compiler) matchFront(p string, fail string) {
	c.Emit(
		asm.JLT.Imm(lenReg, int32(len(p)), fail),
		asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, bufOff),
	)
	c.literalAt(asm.R1, p, fail)
}

// matchMiddle is regex_match_middle: strnstr(str, p, len), which looks at
// every offset up to len-len(p), NULs included.
func (c *compiler) matchMiddle(p string, fail string) {
	if p == "" {
		return
	}
	loop, next, found := c.label(), c.label(), c.label()
	c.Emit(asm.Mov.Imm(posReg, 0))
	c.LoopHead(loop)
	// pos + len(p) <= len, tested without underflow.
	c.Emit(asm.Mov.Reg(asm.R2, posReg), asm.Add.Imm(asm.R2, int32(len(p))), asm.JGT.Reg(asm.R2, lenReg, fail))
	c.bufferAt(posReg, len(p), fail)
	c.literalAt(asm.R1, p, next)
	c.Emit(asm.Ja.Label(found))
	c.Label(next)
	c.Emit(asm.Add.Imm(posReg, 1), asm.Ja.Label(loop))
	c.Label(found)
	c.Emit(asm.Mov.Imm(asm.R0, 0))
}

// matchEnd is regex_match_end: the len(p) bytes before str[len-1] are p.
// For a char array len is the array size, so, as in the kernel, a shorter
// string in it does not match by its end.
func (c *compiler) matchEnd(p string, fail string) {
	c.Emit(
		asm.Mov.Reg(posReg, lenReg),
		asm.JLT.Imm(posReg, int32(len(p)+1), fail),
		asm.Sub.Imm(posReg, int32(len(p)+1)),
	)
	c.bufferAt(posReg, len(p), fail)
	c.literalAt(asm.R1, p, fail)
}
