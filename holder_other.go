//go:build !amd64

package ebtrace

import "golang.org/x/sys/unix"

// cloneHolder has no assembly for this architecture (amd64's is the only
// one run and tested): sessions end without a hand-off, their closes
// waiting for the kernel's detach.
func cloneHolder(closes *uintptr, pairs, pipe uintptr, buf *byte) (pid, errno uintptr) {
	return 0, uintptr(unix.ENOSYS)
}
