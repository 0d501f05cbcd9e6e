// Package emit builds the BPF instruction streams of both of ebtrace's
// compilers, the script compiler (codegen) and the ftrace-filter compiler
// (filter): fresh labels, labels placed on the next instruction, the
// script position on every instruction, and no code that no path reaches,
// which the verifier would reject.
package emit

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Position is attached to each instruction as its source; it prints as
// "FILE:LINE:COL".
type Position struct {
	File *source.File
	Span source.Span
}

func (p Position) String() string {
	line, col := p.File.Position(p.Span.Start)
	return fmt.Sprintf("%s:%d:%d", p.File.Name, line, col)
}

// StoreDW stores a sign-extended 32-bit immediate as the 8 bytes at
// dst+off. asm.StoreImm refuses DWord, but BPF_ST|BPF_DW|BPF_MEM is valid
// and saves a register.
func StoreDW(dst asm.Register, off int16, v int64) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: v}
}

// KfuncCall calls the kernel function with BTF ID id in vmlinux.
func KfuncCall(id btf.TypeID) asm.Instruction {
	return asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoKfuncCall, Constant: int64(id)}
}

// ProbeRead is the probe-read helper of space: r1 destination, r2 size,
// r3 source.
func ProbeRead(space types.AddrSpace) asm.BuiltinFunc {
	if space == types.User {
		return asm.FnProbeReadUser
	}
	return asm.FnProbeReadKernel
}

// Builder builds one BPF function. Jumps go forward to labels placed
// after them, except a loop's back to its head (LoopHead).
type Builder struct {
	Insns asm.Instructions
	// Pos is the script position of what is being compiled: each
	// instruction carries it, unless File is nil.
	Pos  source.Span
	File *source.File

	labels  *int   // shared by a function and the callbacks it spawns
	pending string // the label the next instruction carries
	targets map[string]bool
	dead    bool // no path reaches the next instruction
}

// New returns a Builder for a function of file (nil for code with no
// script position).
func New(file *source.File) *Builder {
	return &Builder{File: file, labels: new(int), targets: map[string]bool{}}
}

// Sub returns a Builder for another function of the same program, such
// as a callback: its labels never collide with b's.
func (b *Builder) Sub() *Builder {
	return &Builder{File: b.File, Pos: b.Pos, labels: b.labels, targets: map[string]bool{}}
}

// At makes sp the position of the instructions that follow.
func (b *Builder) At(sp source.Span) { b.Pos = sp }

// Emit appends instructions, dropping those no path reaches: after an
// unconditional jump or an exit, until a label some jump targets.
func (b *Builder) Emit(ins ...asm.Instruction) {
	for _, in := range ins {
		if b.dead && b.pending == "" {
			continue
		}
		if b.pending != "" {
			in = in.WithSymbol(b.pending)
			b.pending = ""
		}
		op := in.OpCode
		if op.Class().IsJump() {
			if in.Reference() != "" && op.JumpOp() != asm.Call {
				b.targets[in.Reference()] = true
			}
			switch op.JumpOp() {
			case asm.Ja, asm.Exit:
				b.dead = true
			}
		}
		if b.File != nil {
			in = in.WithSource(Position{b.File, b.Pos})
		}
		b.Insns = append(b.Insns, in)
	}
}

// NewLabel returns a fresh label name that says what it marks.
func (b *Builder) NewLabel(what string) string {
	*b.labels++
	return fmt.Sprintf("%s_%d", what, *b.labels)
}

// Label makes name the target of the next instruction. A label no emitted
// jump targets is dropped, and code after it stays unreachable if it was.
func (b *Builder) Label(name string) {
	if !b.targets[name] {
		return
	}
	if b.pending != "" {
		// Two labels on one spot: keep one and jump from the other.
		b.Emit(asm.Ja.Label(name))
	}
	b.pending = name
	b.dead = false
}

// LoopHead places the label a loop jumps back to. Unlike other labels it
// is placed before any jump to it exists; unreachable code stays dropped.
func (b *Builder) LoopHead(name string) {
	if b.dead {
		return
	}
	b.targets[name] = true
	b.Label(name)
}
