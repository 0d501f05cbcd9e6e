package engine

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/cilium/ebpf/asm"
)

// Sentinels that Error and the constructors wrap; test them with errors.Is.
var (
	// ErrUnsupported is something the engine cannot do without a kernel: a
	// helper such as bpf_get_stackid, a kfunc, a map type.
	ErrUnsupported = errors.New("not available in the user-space engine")
	// ErrMemory is a load, store or helper argument outside the context,
	// the stack, map values and ring buffer records, or a write to memory
	// that is read-only (the context, a key).
	ErrMemory = errors.New("invalid memory access")
	// ErrBudget is a run that executed more instructions than its budget.
	ErrBudget = errors.New("instruction budget exhausted")
	// ErrInvalid is an instruction the kernel would not accept: an unknown
	// opcode, a jump out of the program, a call too deep, a bad helper
	// argument.
	ErrInvalid = errors.New("invalid program")
)

// Error is a failure of one instruction, at its index in the program's
// asm.Instructions and its source position if the compiler attached one.
type Error struct {
	Index  int
	Insn   asm.Instruction
	Source fmt.Stringer // ins.Source(); nil when none
	Err    error
}

func (e *Error) Error() string {
	at := fmt.Sprintf("instruction %d (%v)", e.Index, e.Insn)
	if e.Source != nil {
		at = fmt.Sprintf("%s: %s", e.Source, at)
	}
	return at + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// HelperName returns a helper's kernel name without its bpf_ prefix:
// "get_stackid" for asm.FnGetStackid.
func HelperName(fn asm.BuiltinFunc) string {
	name, ok := strings.CutPrefix(fn.String(), "Fn")
	if !ok {
		return fn.String()
	}
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
