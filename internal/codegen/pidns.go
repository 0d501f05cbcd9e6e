package codegen

import (
	"github.com/cilium/ebpf/asm"
)

// Namespace is a PID namespace as bpf_get_ns_current_pid_tgid names it:
// the device and inode of its nsfs file (/proc/PID/ns/pid).
type Namespace struct{ Dev, Ino uint64 }

// taskID leaves the current task's process id (pid) or thread id in r0, as
// ebtrace's PID namespace numbers them: the kernel's own numbers, those of
// the initial namespace, unless ebtrace runs in another. There the helper
// answers for a task of that namespace and zeroes its answer (so pid and
// tid are 0) for a task of any other, as bpftrace's pid(curr_ns) does.
func (g *gen) taskID(pid bool) {
	ns := g.opts.PIDNamespace
	if ns == nil {
		g.Emit(asm.FnGetCurrentPidTgid.Call())
		if pid {
			g.Emit(asm.RSh.Imm(asm.R0, 32))
		} else {
			g.Emit(asm.Mov.Reg32(asm.R0, asm.R0))
		}
		return
	}
	// struct bpf_pidns_info { u32 pid; u32 tgid; }, which the helper
	// fills or zeroes.
	info := g.alloc(8)
	g.Emit(asm.LoadImm(asm.R1, int64(ns.Dev), asm.DWord), asm.LoadImm(asm.R2, int64(ns.Ino), asm.DWord))
	g.stackPtr(asm.R3, info)
	g.Emit(asm.Mov.Imm(asm.R4, 8), asm.FnGetNsCurrentPidTgid.Call())
	off := info
	if pid {
		off += 4
	}
	g.Emit(asm.LoadMem(asm.R0, asm.R10, off, asm.Word))
}
