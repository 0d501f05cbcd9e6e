//go:build amd64

package ebtrace

// cloneHolder starts the holder with clone(2): a process of its own with
// a copy of this process's files but sharing its memory (CLONE_VM), so
// that starting it copies no page tables and this process's later writes
// take no copy-on-write faults. It runs no Go code and uses no stack,
// only system calls with values held in registers: it puts itself in a
// process group of its own (a Ctrl-C meant for this process's group does
// not reach it), closes the fds in the close_range bounds at closes
// (pairs of them), reads the pipe until its end and exits. The caller
// blocks every signal around the call, so that none is delivered on the
// stack the holder shares, and keeps closes and buf until it is reaped.
func cloneHolder(closes *uintptr, pairs, pipe uintptr, buf *byte) (pid, errno uintptr)
