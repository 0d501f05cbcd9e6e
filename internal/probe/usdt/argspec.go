package usdt

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/probe/uprobe"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Location says where a USDT argument's value is.
type Location int

const (
	InRegister Location = iota // the register's value
	InMemory                   // memory at register (+ index*scale) + displacement
	Constant                   // the number itself
)

// Arg is one argument of a USDT probe, decoded from its specification.
type Arg struct {
	Spec   string // as the note writes it, e.g. "-4@-20(%rbp)"
	Size   int    // 1, 2, 4 or 8 bytes
	Signed bool
	Loc    Location
	// Reg is the pt_regs offset of the register, or of a memory
	// operand's base register. Shift is 8 for the x86 high-byte
	// registers (ah, bh, ch, dh), which sit in bits 8-15.
	Reg, Shift int
	// HasIndex marks a memory operand with an index register at pt_regs
	// offset Index, multiplied by Scale (1, 2, 4 or 8).
	HasIndex     bool
	Index, Scale int
	// Value is a Constant's value or a memory operand's displacement.
	Value int64
	// Symbol names the variable of a %rip-relative operand such as
	// "counter+8(%rip)"; Value is then the offset from it (8) until
	// Relocate makes the operand relative to the probe's address.
	Symbol string
}

// ParseArgs decodes a probe's argument specification: space-separated
// arguments of the form [-]SIZE@OPERAND, SIZE in bytes and negative for
// signed values. regs says which architecture's operand syntax applies:
//
//	amd64: %rdi (register), $5 (constant), -20(%rbp), (%rax),
//	       8(%rax,%rdx,8) (memory)
//	arm64: x0 (register), 5 (constant), [sp, 16], [x1] (memory)
func ParseArgs(spec string, regs *arch.Regs) ([]Arg, error) {
	var args []Arg
	for _, field := range splitArgs(spec) {
		a, err := parseArg(field, regs)
		if err != nil {
			return nil, fmt.Errorf("USDT argument %q: %w", field, err)
		}
		args = append(args, a)
	}
	return args, nil
}

// splitArgs splits at spaces outside brackets: arm64's "8@[sp, 16]" is
// one argument.
func splitArgs(spec string) []string {
	var out []string
	depth, start := 0, -1
	for i, r := range spec {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case (r == ' ' || r == '\t') && depth == 0:
			if start >= 0 {
				out = append(out, spec[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, spec[start:])
	}
	return out
}

func parseArg(field string, regs *arch.Regs) (Arg, error) {
	a := Arg{Spec: field, Size: 8}
	operand := field
	if size, op, ok := strings.Cut(field, "@"); ok {
		n, err := strconv.Atoi(size)
		if err != nil {
			return a, fmt.Errorf("size %q is not a number", size)
		}
		if n < 0 {
			a.Signed, n = true, -n
		}
		if n != 1 && n != 2 && n != 4 && n != 8 {
			return a, fmt.Errorf("size %d is not 1, 2, 4 or 8 bytes", n)
		}
		a.Size, operand = n, op
	}
	if operand == "" {
		return a, fmt.Errorf("no operand")
	}
	var err error
	switch regs.Name {
	case "amd64":
		err = a.parseAMD64(operand, regs)
	case "arm64":
		err = a.parseARM64(operand, regs)
	default:
		err = fmt.Errorf("USDT arguments of %s are not supported", regs.Name)
	}
	return a, err
}

func (a *Arg) parseAMD64(op string, regs *arch.Regs) error {
	switch {
	case strings.HasPrefix(op, "$"):
		a.Loc = Constant
		return a.parseConstant(op[1:])
	case strings.HasPrefix(op, "%"):
		a.Loc = InRegister
		return a.setRegister(op[1:], regs)
	}
	a.Loc = InMemory
	disp, inner, ok := strings.Cut(op, "(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return fmt.Errorf("operand %q is not a register, $constant or DISP(%%reg)", op)
	}
	parts := strings.Split(strings.TrimSuffix(inner, ")"), ",")
	if len(parts) > 3 {
		return fmt.Errorf("memory operand %q has too many parts", op)
	}
	base, ok := strings.CutPrefix(parts[0], "%")
	if !ok {
		return fmt.Errorf("memory operand %q has no base register", op)
	}
	if base == "rip" && len(parts) == 1 {
		return a.parseSymbol(disp, regs)
	}
	if err := a.setRegister(base, regs); err != nil {
		return err
	}
	if err := a.parseDisplacement(disp); err != nil {
		return err
	}
	if len(parts) == 1 {
		return nil
	}
	index, ok := strings.CutPrefix(parts[1], "%")
	if !ok {
		return fmt.Errorf("memory operand %q has no index register", op)
	}
	scale := "1"
	if len(parts) == 3 {
		scale = parts[2]
	}
	return a.setIndex(index, scale, regs)
}

// parseSymbol reads the SYMBOL[+-N] of a %rip-relative operand: the
// assembler made the operand's address that of the symbol, where the
// probe's nop sits now does not matter.
func (a *Arg) parseSymbol(disp string, regs *arch.Regs) error {
	sym, off := disp, "0"
	if i := strings.LastIndexAny(disp, "+-"); i > 0 {
		sym, off = disp[:i], disp[i:]
	}
	v, err := strconv.ParseInt(off, 0, 32)
	if err != nil || sym == "" || !isSymbol(sym) {
		return fmt.Errorf("%%rip-relative operand %q does not name a variable", disp)
	}
	a.Symbol, a.Value, a.Reg = sym, v, regs.IP
	return nil
}

// isSymbol reports whether s could be a C or assembler symbol name.
func isSymbol(s string) bool {
	for i, r := range s {
		if !(r == '_' || r == '.' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// Relocate turns a %rip-relative operand into one relative to the
// instruction pointer at the probe, which uprobes see at the probe's
// address: the variable sits at symbol - pc bytes from it, with symbol
// and pc both as linked. It fails when that distance needs more than 32
// bits.
func (a *Arg) Relocate(symbol, pc uint64) error {
	d := int64(symbol-pc) + a.Value
	if d < math.MinInt32 || d > math.MaxInt32 {
		return fmt.Errorf("variable %s is too far from the probe", a.Symbol)
	}
	a.Symbol, a.Value = "", d
	return nil
}

func (a *Arg) parseARM64(op string, regs *arch.Regs) error {
	inner, ok := strings.CutPrefix(op, "[")
	if !ok {
		if c := strings.TrimPrefix(op, "#"); c != "" && (c[0] == '-' || c[0] >= '0' && c[0] <= '9') {
			a.Loc = Constant
			return a.parseConstant(c)
		}
		a.Loc = InRegister
		return a.setRegister(op, regs)
	}
	a.Loc = InMemory
	inner, ok = strings.CutSuffix(inner, "]")
	if !ok {
		return fmt.Errorf("memory operand %q lacks its ']'", op)
	}
	base, disp, _ := strings.Cut(inner, ",")
	if err := a.setRegister(strings.TrimSpace(base), regs); err != nil {
		return err
	}
	return a.parseDisplacement(strings.TrimPrefix(strings.TrimSpace(disp), "#"))
}

func (a *Arg) setRegister(name string, regs *arch.Regs) error {
	off, err := regs.Register(name)
	if err != nil {
		return err
	}
	a.Reg = off
	if regs.Name == "amd64" && len(name) == 2 && name[1] == 'h' && strings.ContainsRune("abcd", rune(name[0])) {
		a.Shift = 8
	}
	return nil
}

func (a *Arg) setIndex(name, scale string, regs *arch.Regs) error {
	off, err := regs.Register(name)
	if err != nil {
		return err
	}
	s, err := strconv.Atoi(scale)
	if err != nil || s != 1 && s != 2 && s != 4 && s != 8 {
		return fmt.Errorf("scale %q is not 1, 2, 4 or 8", scale)
	}
	a.HasIndex, a.Index, a.Scale = true, off, s
	return nil
}

func (a *Arg) parseConstant(text string) error {
	if v, err := strconv.ParseInt(text, 0, 64); err == nil {
		a.Value = v
		return nil
	}
	v, err := strconv.ParseUint(text, 0, 64)
	if err != nil {
		return fmt.Errorf("constant %q is not a number", text)
	}
	a.Value = int64(v)
	return nil
}

// parseDisplacement reads a memory operand's offset, which the load code
// adds as a 32-bit immediate.
func (a *Arg) parseDisplacement(text string) error {
	if text == "" {
		return nil
	}
	v, err := strconv.ParseInt(text, 0, 64)
	if err != nil {
		return fmt.Errorf("displacement %q is not a number (symbolic addresses are not supported)", text)
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return fmt.Errorf("displacement %d does not fit in 32 bits", v)
	}
	a.Value = v
	return nil
}

// Type is the argument's script type: an integer of its size and sign,
// or for 8 unsigned bytes, which pointers are, uprobe.Word.
func (a Arg) Type() types.Type {
	if a.Size == 8 && !a.Signed {
		return uprobe.Word
	}
	return types.IntOf(a.Size, a.Signed)
}

// Load returns instructions that leave the argument in r0, extended to
// 64 bits as its sign says, given the context (struct pt_regs) in r6.
// Memory operands are read with bpf_probe_read_user into the 8 bytes at
// scratch below r10; a failed read yields 0.
func (a Arg) Load(scratch int16) asm.Instructions {
	switch a.Loc {
	case Constant:
		return asm.Instructions{asm.LoadImm(asm.R0, a.extend(a.Value), asm.DWord)}
	case InRegister:
		insns := asm.Instructions{asm.LoadMem(asm.R0, asm.R6, int16(a.Reg), asm.DWord)}
		if a.Shift > 0 {
			insns = append(insns, asm.RSh.Imm(asm.R0, int32(a.Shift)))
		}
		return append(insns, a.extendR0()...)
	}
	insns := asm.Instructions{
		// A DWord store of an immediate; asm.StoreImm refuses DWord.
		{OpCode: asm.StoreImmOp(asm.DWord), Dst: asm.R10, Offset: scratch},
		asm.LoadMem(asm.R3, asm.R6, int16(a.Reg), asm.DWord),
	}
	if a.HasIndex {
		insns = append(insns, asm.LoadMem(asm.R4, asm.R6, int16(a.Index), asm.DWord))
		if a.Scale > 1 {
			insns = append(insns, asm.LSh.Imm(asm.R4, int32(bits.TrailingZeros(uint(a.Scale)))))
		}
		insns = append(insns, asm.Add.Reg(asm.R3, asm.R4))
	}
	if a.Value != 0 {
		insns = append(insns, asm.Add.Imm(asm.R3, int32(a.Value)))
	}
	insns = append(insns,
		asm.Mov.Reg(asm.R1, asm.R10),
		asm.Add.Imm(asm.R1, int32(scratch)),
		asm.Mov.Imm(asm.R2, int32(a.Size)),
		asm.FnProbeReadUser.Call(),
		asm.LoadMem(asm.R0, asm.R10, scratch, asm.DWord),
	)
	// The bytes above Size stayed zero: only signed values need work.
	if a.Signed {
		insns = append(insns, a.extendR0()...)
	}
	return insns
}

// extendR0 keeps the low Size bytes of r0, sign- or zero-extended.
func (a Arg) extendR0() asm.Instructions {
	if a.Size == 8 {
		return nil
	}
	shift := int32(64 - 8*a.Size)
	if a.Signed {
		return asm.Instructions{asm.LSh.Imm(asm.R0, shift), asm.ArSh.Imm(asm.R0, shift)}
	}
	return asm.Instructions{asm.LSh.Imm(asm.R0, shift), asm.RSh.Imm(asm.R0, shift)}
}

// extend is extendR0 for a constant known now.
func (a Arg) extend(v int64) int64 {
	if a.Size == 8 {
		return v
	}
	shift := 64 - 8*a.Size
	if a.Signed {
		return v << shift >> shift
	}
	return int64(uint64(v) << shift >> shift)
}
