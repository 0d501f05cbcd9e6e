package main

// int80 makes the 32-bit syscall nr through the ia32 entry (int 0x80),
// without arguments, from this 64-bit process: the kernel runs it as a
// compat syscall, which raw_syscalls traces and the syscalls tracepoints
// do not.
func int80(nr uint32) uint32

// ia32Getpid is getpid's number in the 32-bit table.
const ia32Getpid = 20

func compatGetpid(n int) error {
	for range n {
		int80(ia32Getpid)
	}
	return nil
}
