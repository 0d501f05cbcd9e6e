package filter

import (
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/source"
)

// Compile type-checks expr against the event's format and returns a
// complete BPF_PROG_TYPE_TRACEPOINT program: its context is the raw trace
// record, fields are read at their format-file offsets, and it returns 1
// to keep the event and 0 to drop it. Problems with the filter are
// *source.Diagnostics pointing into the filter text.
//
// Load it as ebpf.ProgramSpec{Type: ebpf.TracePoint, License: "GPL"} (it
// calls GPL-only helpers). It uses no maps, and its first instruction has
// no symbol, so it can also be called as a subprogram: give that
// instruction a symbol and call it from a program that acts on the result.
//
// The algorithm: each node compiles to code that jumps to a "true" or a
// "false" label, so && and || short-circuit like the kernel's filter; each
// predicate loads its field (or the helper that stands in for it), then
// compares with the value decoded at compile time.
//
// An error that is not a *source.Diagnostics comes from opts.UserPointers.
func Compile(expr *Expr, format *kernel.Format, opts Options) (asm.Instructions, error) {
	c := &compiler{Builder: emit.New(nil), format: format, opts: opts, diags: &source.Diagnostics{File: expr.file}}
	if c.diags.File == nil {
		c.diags.File = source.NewFile(diagFile, "")
	}
	c.Emit(asm.Mov.Reg(ctxReg, asm.R1))
	keep, drop := c.label(), c.label()
	c.cond(expr, keep, drop)
	if err := c.diags.Err(); err != nil {
		return nil, err
	}
	if c.probeErr != nil {
		return nil, c.probeErr
	}
	c.Label(keep)
	c.Emit(asm.Mov.Imm(asm.R0, 1), asm.Return())
	c.Label(drop)
	c.Emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	return c.Insns, nil
}

// Options holds what Compile must know of the running kernel, where kernel
// builds differ.
type Options struct {
	// UserPointers reports whether the kernel's filter reads a char *
	// field written without .ustring from user memory when it points
	// there (kernel.FilterReadsUserPointers finds out). Compile calls it
	// only for such a predicate, so other filters never ask the kernel.
	// nil means no: the pointer is read as kernel memory only.
	UserPointers func() (bool, error)
}

// ctxReg keeps the context (the trace record) across helper calls.
const ctxReg = asm.R6

type compiler struct {
	*emit.Builder
	format   *kernel.Format
	opts     Options
	probeErr error // from opts.UserPointers
	diags    *source.Diagnostics
}

// label returns a fresh label of the filter's code.
func (c *compiler) label() string { return c.NewLabel("filter") }

func (c *compiler) errorf(span source.Span, code, format string, args ...any) *source.Diagnostic {
	return c.diags.Add(span, code, format, args...)
}

// cond emits code for e that jumps to yes when e holds and to no otherwise.
func (c *compiler) cond(e *Expr, yes, no string) {
	switch e.Kind {
	case And:
		mid := c.label()
		c.cond(e.X, mid, no)
		c.Label(mid)
		c.cond(e.Y, yes, no)
	case Or:
		mid := c.label()
		c.cond(e.X, yes, mid)
		c.Label(mid)
		c.cond(e.Y, yes, no)
	case Not:
		c.cond(e.X, no, yes)
	default:
		c.pred(e, yes, no)
	}
}

// field is a filterable value: an event field, or a value the kernel's filter
// offers on every event (common_pid, CPU, COMM) that a BPF program computes
// with a helper.
type field struct {
	kernel.Field
	kind fieldKind
}

type fieldKind int

const (
	numeric   fieldKind = iota
	fixedStr            // char NAME[N] in the record
	dynStr              // __data_loc / __rel_loc char[]
	ptrStr              // char * (kernel memory, or user memory with .ustring)
	commStr             // COMM: the current task's comm
	cpuNum              // CPU: bpf_get_smp_processor_id
	tidNum              // common_pid: the thread id
	eventType           // common_type: the event's ID, a constant
)

// lookup resolves a predicate's field the way the kernel does: the event's
// own fields first, then the generic CPU/COMM fields, then the common header.
func (c *compiler) lookup(e *Expr) (field, bool) {
	for _, f := range c.format.Fields {
		if !f.Common && f.Name == e.Field {
			return field{Field: f, kind: classify(f)}, true
		}
	}
	switch e.Field {
	case "CPU", "cpu":
		return field{Field: kernel.Field{Name: e.Field, Type: "int", Size: 4, Signed: true}, kind: cpuNum}, true
	case "COMM", "comm":
		return field{Field: kernel.Field{Name: e.Field, Type: "char[16]", Size: 16, ArrayLen: 16}, kind: commStr}, true
	}
	for _, f := range c.format.Fields {
		if f.Common && f.Name == e.Field {
			fl := field{Field: f, kind: numeric}
			switch f.Name {
			case "common_pid":
				fl.kind = tidNum
			case "common_type":
				fl.kind = eventType
			default:
				c.errorf(e.FieldSpan, "unsupported-field", "%s cannot be read by a BPF filter", f.Name).
					Hint("the kernel overwrites the record's first 8 bytes (common_type, common_flags, common_preempt_count, common_pid) before a BPF program sees it; common_pid and common_type are recomputed, %s is lost", f.Name)
				return field{}, false
			}
			return fl, true
		}
	}
	c.unknownField(e)
	return field{}, false
}

func (c *compiler) unknownField(e *Expr) {
	names := []string{"CPU", "COMM"}
	for _, f := range c.format.Fields {
		names = append(names, f.Name)
	}
	d := c.errorf(source.Span{Start: e.FieldSpan.Start, End: e.FieldSpan.Start + source.Pos(len(e.Field))},
		"unknown-field", "%s:%s has no field %q", c.format.Category, c.format.Name, e.Field)
	if close := source.Closest(e.Field, names, 3); len(close) > 0 {
		d.Hint("did you mean %s?", strings.Join(close, ", "))
	}
	var args []string
	for _, f := range c.format.ArgFields() {
		args = append(args, f.Name)
	}
	d.Hint("fields: %s, and common_pid, common_type, CPU, COMM", strings.Join(args, ", "))
}

// classify sorts an event field the way the kernel's filter_assign_type
// does: a char array or __data_loc char[] is a string, as is a char pointer.
func classify(f kernel.Field) fieldKind {
	isChar := strings.Contains(f.Type, "char")
	switch {
	case f.DataLoc && isChar:
		return dynStr
	case strings.Contains(f.Type, "[") && isChar:
		return fixedStr
	case f.Type == "char *" || f.Type == "const char *":
		return ptrStr
	}
	return numeric
}

// pred compiles one FIELD OP VALUE.
func (c *compiler) pred(e *Expr, yes, no string) {
	f, ok := c.lookup(e)
	if !ok {
		return
	}
	if e.Suffix != "" && !c.suffixApplies(e, f) {
		return
	}
	switch {
	case e.Suffix == "function":
		c.function(e, f, yes, no)
	case f.kind == numeric || f.kind == cpuNum || f.kind == tidNum || f.kind == eventType:
		c.numeric(e, f, yes, no)
	default:
		c.str(e, f, yes, no)
	}
}

// suffixApplies checks .ustring and .function against the field.
func (c *compiler) suffixApplies(e *Expr, f field) bool {
	switch e.Suffix {
	case "ustring":
		// On a string in the record itself the kernel takes .ustring and
		// ignores it; so does Compile.
		if f.kind == numeric || f.kind == cpuNum || f.kind == tidNum || f.kind == eventType {
			c.errorf(e.FieldSpan, "bad-suffix", ".ustring applies to string fields; %s is %s", f.Name, f.Type).
				Hint("use .ustring on a char * field that points into user memory")
			return false
		}
	case "function":
		if f.kind != numeric && f.kind != ptrStr || f.Size != 8 {
			c.errorf(e.FieldSpan, "bad-suffix", ".function applies to fields of size long holding a kernel address; %s is %s", f.Name, f.Type)
			return false
		}
		if e.Op != Eq && e.Op != Ne {
			c.errorf(e.OpSpan, "bad-operator", ".function compares with == or !=, not %s", e.Op)
			return false
		}
	}
	return true
}

// numeric compiles an integer comparison. The value is truncated to the
// field's width and signedness first, as the kernel's filter does.
func (c *compiler) numeric(e *Expr, f field, yes, no string) {
	if e.Op == Glob {
		c.errorf(e.OpSpan, "bad-operator", "~ matches strings; %s is %s", f.Name, f.Type).
			Hint("compare numbers with == != < <= > >= or &")
		return
	}
	if f.kind == cpuNum && e.Op == Band {
		c.errorf(e.OpSpan, "cpu-and", "the kernel's filter has no & for %s: it never matches", f.Name).
			Hint("compare %s with == != < <= > or >=", f.Name)
		return
	}
	if e.Quoted {
		c.errorf(e.ValueSpan, "type-mismatch", "%s is %s, not a string", f.Name, f.Type).
			Hint("write a number: decimal, 0x hex or 0 octal")
		return
	}
	// Like the kernel, a non-char array or a __data_loc word of 1, 2, 4
	// or 8 bytes compares as an integer of that size.
	if f.kind == numeric && f.Size != 1 && f.Size != 2 && f.Size != 4 && f.Size != 8 {
		c.errorf(e.FieldSpan, "unsupported-field", "%s is %s, %d bytes, which a filter cannot compare", f.Name, f.Type, f.Size).
			Hint("filters compare integers of 1, 2, 4 or 8 bytes and strings")
		return
	}
	v, ok := c.number(e, f)
	if !ok {
		return
	}
	c.loadNumber(f)
	c.Emit(asm.LoadImm(asm.R1, v, asm.DWord))
	c.compare(e.Op, f.Signed, yes, no)
}

// compare jumps on R0 OP R1.
func (c *compiler) compare(op Op, signed bool, yes, no string) {
	var jump asm.JumpOp
	switch op {
	case Eq:
		jump = asm.JEq
	case Ne:
		jump = asm.JNE
	case Lt:
		jump = pick(signed, asm.JSLT, asm.JLT)
	case Le:
		jump = pick(signed, asm.JSLE, asm.JLE)
	case Gt:
		jump = pick(signed, asm.JSGT, asm.JGT)
	case Ge:
		jump = pick(signed, asm.JSGE, asm.JGE)
	case Band:
		c.Emit(asm.And.Reg(asm.R0, asm.R1))
		c.Emit(asm.JNE.Imm(asm.R0, 0, yes), asm.Ja.Label(no))
		return
	}
	c.Emit(jump.Reg(asm.R0, asm.R1, yes), asm.Ja.Label(no))
}

func pick(signed bool, s, u asm.JumpOp) asm.JumpOp {
	if signed {
		return s
	}
	return u
}

// number decodes the value as kstrtoll/kstrtoull with base 0 do: 0x hex,
// leading-0 octal, else decimal; a '-' only for signed fields. The result
// is truncated and re-extended to the field's width.
func (c *compiler) number(e *Expr, f field) (int64, bool) {
	text := e.Value
	if c0 := text[0]; c0 != '-' && (c0 < '0' || c0 > '9') {
		d := c.errorf(e.ValueSpan, "type-mismatch", "%s is %s: %q is not a number", f.Name, f.Type, text)
		if _, isField := c.format.Field(text); isField {
			d.Hint("a filter compares a field with a constant, not with another field")
		} else {
			d.Hint("only string fields take a string value, and it needs quotes")
		}
		return 0, false
	}
	neg := text[0] == '-'
	digits := strings.TrimPrefix(text, "-")
	base := 10
	switch {
	case len(digits) > 2 && (digits[:2] == "0x" || digits[:2] == "0X"):
		base, digits = 16, digits[2:]
	case len(digits) > 1 && digits[0] == '0':
		base, digits = 8, digits[1:]
	}
	u, err := strconv.ParseUint(digits, base, 64)
	switch {
	case err != nil:
		c.errorf(e.ValueSpan, "bad-number", "%q is not a valid integer", text).
			Hint("numbers are decimal, 0x hex or 0 octal, and fit in 64 bits")
		return 0, false
	case neg && !f.Signed:
		c.errorf(e.ValueSpan, "bad-number", "%s is unsigned (%s): the kernel takes no negative value such as %s", f.Name, f.Type, text)
		return 0, false
	case neg && u > 1<<63:
		c.errorf(e.ValueSpan, "bad-number", "%q does not fit in 64 bits", text)
		return 0, false
	case !neg && f.Signed && u > 1<<63-1:
		c.errorf(e.ValueSpan, "bad-number", "%q does not fit in a signed 64-bit value", text)
		return 0, false
	}
	v := int64(u)
	if neg {
		v = -v
	}
	return extend(v, f.Size, f.Signed), true
}

// extend truncates v to size bytes and sign- or zero-extends it back.
func extend(v int64, size int, signed bool) int64 {
	if size >= 8 || size <= 0 {
		return v
	}
	shift := uint(64 - 8*size)
	if signed {
		return v << shift >> shift
	}
	return int64(uint64(v) << shift >> shift)
}

// loadNumber puts the field's value, extended to 64 bits, in R0.
func (c *compiler) loadNumber(f field) {
	switch f.kind {
	case cpuNum:
		c.Emit(asm.FnGetSmpProcessorId.Call())
		return
	case tidNum:
		// The low half of pid_tgid is the thread id, which is what the
		// record's common_pid holds.
		c.Emit(asm.FnGetCurrentPidTgid.Call(), asm.LSh.Imm(asm.R0, 32), asm.RSh.Imm(asm.R0, 32))
		return
	case eventType:
		c.Emit(asm.Mov.Imm(asm.R0, int32(c.format.ID)))
		return
	}
	size := f.Size
	if f.Offset%size == 0 {
		c.Emit(asm.LoadMem(asm.R0, ctxReg, int16(f.Offset), sizeOf(size)))
	} else {
		// A misaligned field: the context only allows aligned loads.
		c.Emit(
			asm.Mov.Imm(asm.R0, 0), asm.StoreMem(asm.R10, -8, asm.R0, asm.DWord),
			asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, -8),
			asm.Mov.Imm(asm.R2, int32(size)),
			asm.Mov.Reg(asm.R3, ctxReg), asm.Add.Imm(asm.R3, int32(f.Offset)),
			asm.FnProbeReadKernel.Call(),
			asm.LoadMem(asm.R0, asm.R10, -8, sizeOf(size)),
		)
	}
	if f.Signed && size < 8 {
		shift := int32(64 - 8*size)
		c.Emit(asm.LSh.Imm(asm.R0, shift), asm.ArSh.Imm(asm.R0, shift))
	}
}

func sizeOf(n int) asm.Size {
	switch n {
	case 1:
		return asm.Byte
	case 2:
		return asm.Half
	case 4:
		return asm.Word
	}
	return asm.DWord
}
