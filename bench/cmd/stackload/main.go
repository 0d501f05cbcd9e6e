// Command stackload is the load bench/run.sh samples for its "stacks" rows:
// a process whose stacks, user and kernel, are many and known in advance,
// so a profiler that samples it for a while collects many distinct stacks.
//
// Usage:
//
//	stackload DEPTH MS
//
// For MS milliseconds of wall time it walks, again and again, every one of
// the 2^DEPTH paths down a binary tree of calls. Each level calls the next
// through one of two functions, chosen by one bit of the path, so every
// path has its own chain of return addresses. At the bottom it does a
// little arithmetic in user space and then one of four cheap syscalls
// (getppid, getpid, getuid, getgid), chosen by the path, so the kernel
// stacks differ as well. The syscalls are raw wrappers: the Go runtime adds
// no frames of its own between the leaf and the kernel. All the work is
// done on one thread.
//
// It exits 0 when the time is up and 2 on bad usage.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	depth, ms, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "stackload: %v\nusage: stackload DEPTH MS\n", err)
		os.Exit(2)
	}
	// One thread does all the work: bpftrace keys a user stack by thread,
	// so the same stack sampled on two threads would be two entries for it
	// and one for ebtrace, and the tools would not print the same work.
	runtime.LockOSThread()
	end := time.Now().Add(time.Duration(ms) * time.Millisecond)
	for time.Now().Before(end) {
		for path := range uint(1) << depth {
			descend(depth, path)
		}
	}
}

// parse reads DEPTH (1 to 20) and MS (non-negative).
func parse(args []string) (depth, ms int, err error) {
	if len(args) != 2 {
		return 0, 0, fmt.Errorf("want 2 arguments, got %d", len(args))
	}
	depth, err = strconv.Atoi(args[0])
	if err != nil || depth < 1 || depth > 20 {
		return 0, 0, fmt.Errorf("DEPTH %q is not an integer from 1 to 20", args[0])
	}
	ms, err = strconv.Atoi(args[1])
	if err != nil || ms < 0 {
		return 0, 0, fmt.Errorf("MS %q is not a non-negative integer", args[1])
	}
	return depth, ms, nil
}

// descend goes one level down path: through left when bit d-1 of path is
// clear, through right when it is set, and to leaf at the bottom.
func descend(d int, path uint) {
	switch {
	case d == 0:
		leaf(path)
	case path>>(d-1)&1 == 0:
		left(d-1, path)
	default:
		right(d-1, path)
	}
}

//go:noinline
func left(d int, path uint) { descend(d, path) }

//go:noinline
func right(d int, path uint) { descend(d, path) }

// leaf spends a little time in user space, then enters the kernel through
// the syscall the path selects.
//
//go:noinline
func leaf(path uint) {
	x := uint64(path)
	for range 200 {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink += x
	switch path % 4 {
	case 0:
		unix.Getppid()
	case 1:
		unix.Getpid()
	case 2:
		unix.Getuid()
	default:
		unix.Getgid()
	}
}

// sink keeps leaf's arithmetic from being optimised away.
var sink uint64
