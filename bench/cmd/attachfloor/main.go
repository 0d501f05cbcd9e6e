// Command attachfloor is bench/attach.sh's attach floor: the least a Go
// tracer built on cilium/ebpf does before its attach line, for the
// script `tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }`.
// It creates the per-CPU hash map, loads a program that counts by
// bpf_get_current_comm, attaches it to the tracepoint and writes
// "Attached 1 probe" to stderr; then it waits for SIGINT or SIGTERM. No
// parsing, no compiling, no format files, no BTF of its own: what is left
// is exec, the Go runtime's and cilium/ebpf's initialisation and the
// kernel's own work (map creation, verifier, JIT, perf event, link). It
// needs root.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "attachfloor:", err)
		os.Exit(1)
	}
}

func run() error {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	counts, err := ebpf.NewMap(&ebpf.MapSpec{
		Type: ebpf.PerCPUHash, KeySize: 16, ValueSize: 8, MaxEntries: 4096,
		Flags: unix.BPF_F_NO_PREALLOC,
	})
	if err != nil {
		return err
	}
	defer counts.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.TracePoint, License: "GPL", Instructions: countByComm(counts),
	})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.Tracepoint("syscalls", "sys_enter_openat", prog, nil)
	if err != nil {
		return err
	}
	defer l.Close()
	os.Stderr.WriteString("Attached 1 probe\n")
	<-signals
	return nil
}

// countByComm is @[comm] = count(): the comm is the key on the stack at
// fp-16, the value at fp-24; an absent key is added with 1, a present
// one's value incremented.
func countByComm(m *ebpf.Map) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.DWord),
		asm.StoreMem(asm.RFP, -8, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, -16),
		asm.Mov.Imm(asm.R2, 16),
		asm.FnGetCurrentComm.Call(),
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "insert"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		asm.Mov.Imm(asm.R1, 1).WithSymbol("insert"),
		asm.StoreMem(asm.RFP, -24, asm.R1, asm.DWord),
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -24),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}
}
