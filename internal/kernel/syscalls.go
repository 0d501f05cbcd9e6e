package kernel

import "sync"

//go:generate sh -c "cd .. && go run ./cmd/gensyscalls"

// SyscallName returns the name of syscall number nr on this architecture,
// as <asm/unistd.h>, strace and the manual name it. The kernel keeps no
// table of numbers that user space can read: tracefs event ids number
// events, not syscalls. Tracepoints spell a few syscalls differently
// (sys_enter_newstat is stat, sys_enter_sendfile64 is sendfile).
func SyscallName(nr int) (string, bool) {
	if nr < 0 || nr >= len(syscallNames) || syscallNames[nr] == "" {
		return "", false
	}
	return syscallNames[nr], true
}

// SyscallNumber returns the number of the syscall named name on this
// architecture, as SyscallName names it.
func SyscallNumber(name string) (int, bool) {
	nr, ok := syscallNumbers()[name]
	return nr, ok
}

var syscallNumbers = sync.OnceValue(func() map[string]int {
	m := make(map[string]int, len(syscallNames))
	for nr, name := range syscallNames {
		if name != "" {
			m[name] = nr
		}
	}
	return m
})
