// Command touch writes to each of N fresh anonymous pages once, so that
// each costs exactly one minor page fault; profile's tests count them with
// software:page-faults.
//
// Usage: touch N
package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	n, err := strconv.Atoi(os.Args[len(os.Args)-1])
	if len(os.Args) != 2 || err != nil || n < 0 {
		fmt.Fprintln(os.Stderr, "usage: touch N")
		os.Exit(2)
	}
	if n == 0 {
		return
	}
	page := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, n*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "touch:", err)
		os.Exit(1)
	}
	// A transparent huge page would map 512 pages with one fault.
	if err := unix.Madvise(mem, unix.MADV_NOHUGEPAGE); err != nil {
		fmt.Fprintln(os.Stderr, "touch:", err)
		os.Exit(1)
	}
	for i := 0; i < n; i++ {
		mem[i*page] = 1
	}
}
