package fentry

import (
	"errors"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/kprobe"
)

// errENOTSUPP is the kernel-internal ENOTSUPP (524) that BPF attach paths
// return to user space; x/sys/unix does not name it.
const errENOTSUPP = syscall.Errno(524)

// probeTargets are functions an empty fentry program is attached to, to
// learn whether trampolines work: bpf_fentry_test1 exists for BPF's own
// tests and runs only under BPF_PROG_TEST_RUN.
var probeTargets = []string{"bpf_fentry_test1", "vfs_read"}

// Available returns nil when the running kernel attaches BPF trampolines,
// else a *probe.Unavailable naming why. It loads and attaches an empty
// fentry program once per process. Failures it cannot explain give nil,
// leaving the real load to report them.
func Available() error { return trampolines() }

var trampolines = sync.OnceValue(func() error {
	vm, err := vmlinuxFuncs()
	if errors.Is(err, ebpf.ErrNotSupported) {
		return &probe.Unavailable{Reason: "this kernel has no BTF (CONFIG_DEBUG_INFO_BTF is off)", Err: err}
	}
	if err != nil {
		return nil
	}
	for _, target := range probeTargets {
		if vm.count[target] == 1 {
			return tryTrampoline(target)
		}
	}
	return nil
})

// tryTrampoline loads and attaches an empty fentry program to target.
func tryTrampoline(target string) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceFEntry,
		AttachTo:     target,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return &probe.Unavailable{Reason: "this kernel has no BPF trampolines (fentry needs Linux 5.5 or later)", Err: err}
		}
		return refused(err)
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		if errors.Is(err, errENOTSUPP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, ebpf.ErrNotSupported) {
			return &probe.Unavailable{Reason: "this kernel cannot attach BPF trampolines (it lacks ftrace direct calls)", Err: err}
		}
		return refused(err)
	}
	l.Close()
	return nil
}

// refused explains an EPERM given to a process that holds the privileges
// tracing needs, naming what refuses it (kernel.Access.Denied); other
// errors are left to the real load, as is EPERM for a process without
// them (missing privileges).
func refused(err error) error {
	if !errors.Is(err, unix.EPERM) {
		return nil
	}
	access := kernel.CurrentAccess()
	if !access.Privileged() {
		return nil
	}
	return &probe.Unavailable{Reason: "the kernel refuses BPF trampolines: " + access.Denied(), Err: err}
}

// Available implements probe.Instance.
func (i *instance) Available() error {
	err := Available()
	if err == nil {
		return nil
	}
	return probe.Unavailablef("%s: %w; %s", i.name, err, i.instead())
}

// instead suggests a kprobe on the same function when the kernel has
// kprobes, else what kprobe.Instead suggests.
func (i *instance) instead() string {
	if kprobe.Available() != nil {
		return kprobe.Instead(i.fn, i.exit, i.env)
	}
	k := "kprobe:"
	if i.exit {
		k = "kretprobe:"
	}
	return "use " + k + i.fn + " instead"
}
