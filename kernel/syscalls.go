package kernel

//go:generate sh -c "cd .. && go run ./internal/cmd/gensyscalls"

// SyscallName returns the name of syscall number nr on this architecture,
// as its tracepoints name it (the X of syscalls:sys_enter_X).
func SyscallName(nr int) (string, bool) {
	name, ok := syscallNames[nr]
	return name, ok
}
