// Package arch owns the machine-dependent view of a probed function's
// context: where struct pt_regs keeps each argument register, the return
// value, the instruction and stack pointers, and the register names that
// USDT argument specifications use, and how the kernel names its system
// call entry points. One file per architecture holds its
// table; build tags pick the running one.
package arch

import "fmt"

// Regs describes one architecture's struct pt_regs, as BPF programs of
// kprobe, uprobe and USDT probes see it.
type Regs struct {
	Name string // GOARCH
	// Args are the offsets of the integer argument registers, in calling
	// convention order.
	Args []int
	// Ret, IP and SP are the offsets of the return value, the
	// instruction pointer and the stack pointer.
	Ret, IP, SP int
	// Size is sizeof(struct pt_regs).
	Size int
	// Mode is the offset of the register that holds the privilege level
	// the probed code ran at (cs on amd64, pstate on arm64): user mode
	// when its bits in ModeMask equal UserMode.
	Mode               int
	ModeMask, UserMode int32
	// SyscallWrapper prefixes the kernel function through which a system
	// call is entered (__x64_sys_write), where libbpf's ksyscall/ sections
	// attach.
	SyscallWrapper string
	// byName maps every register name USDT specifications use, sub-register
	// aliases included (eax, w0), to its offset; built on first use, as
	// few scripts need it.
	byName func() map[string]int
}

// Arg returns the offset of argument register i, and false when the
// calling convention passes argument i on the stack instead.
func (r *Regs) Arg(i int) (int, bool) {
	if i < 0 || i >= len(r.Args) {
		return 0, false
	}
	return r.Args[i], true
}

// Register returns the pt_regs offset of a register named as in a USDT
// argument specification, without the leading %.
func (r *Regs) Register(name string) (int, error) {
	off, ok := r.byName()[name]
	if !ok {
		return 0, fmt.Errorf("register %q is not a %s general-purpose register", name, r.Name)
	}
	return off, nil
}

// ByName returns the table of an architecture by its GOARCH name.
func ByName(goarch string) (*Regs, error) {
	switch goarch {
	case "amd64":
		return AMD64, nil
	case "arm64":
		return ARM64, nil
	}
	return nil, fmt.Errorf("architecture %s is not supported for register-based probes", goarch)
}
