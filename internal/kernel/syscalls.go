package kernel

//go:generate sh -c "cd .. && go run ./internal/cmd/gensyscalls"

// SyscallName returns the name of syscall number nr on this architecture,
// as <asm/unistd.h>, strace and the manual name it. The kernel keeps no
// table of numbers that user space can read: tracefs event ids number
// events, not syscalls. Tracepoints spell a few syscalls differently
// (sys_enter_newstat is stat, sys_enter_sendfile64 is sendfile).
func SyscallName(nr int) (string, bool) {
	name, ok := syscallNames[nr]
	return name, ok
}
