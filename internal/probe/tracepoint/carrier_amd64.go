package tracepoint

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/probe"
)

// tsCompat is x86's TS_COMPAT, the thread_info.status bit set while a task
// runs a 32-bit syscall: raw_syscalls sees those, with the 32-bit table's
// numbers, and the syscalls tracepoints do not.
const tsCompat = 0x2

// compatGuard returns the carrier's guard against 32-bit syscalls.
func compatGuard(env *probe.Env) (asm.Instructions, error) {
	off, err := env.TaskStatusOffset()
	if err != nil {
		return nil, err
	}
	return asm.Instructions{
		asm.FnGetCurrentTaskBtf.Call(),
		asm.LoadMem(asm.R0, asm.R0, int16(off), asm.Word),
		asm.And.Imm(asm.R0, tsCompat),
	}, nil
}
