package ebtrace

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// slowToRelease are the kinds of file whose last close makes the kernel
// wait: a tracepoint's perf event waits out RCU grace periods as it is
// unregistered (tens of milliseconds each, one after another under the
// kernel's event mutex), and a link's release waits for one since 6.13.
var slowToRelease = map[string]bool{"anon_inode:bpf_link": true, "anon_inode:[perf_event]": true}

// holder is a process cloneHolder started that holds copies of the BPF
// links and perf events this process held, until release.
type holder struct {
	pid   int
	write int // the end of the pipe whose closing ends it
	// What it reads and where its read would land, in this process's
	// memory, which it shares.
	closes []uintptr
	buf    *byte
}

// handOff starts a process that holds a copy of every BPF link and perf
// event this process holds, closes every other file and waits for
// release. The caller closes its own links in between, which then only
// drop references, and the kernel detaches them in that process's exit.
// Tracing has stopped and the output is final, so no one waits for the
// kernel's detach. It returns nil when there was nothing to hand off or
// the process could not start; the caller's closes then wait as they
// always did. Nothing is left attached either way: the holder also ends
// when this process does, SIGKILL included, as the pipe's write end
// closes then.
func handOff() *holder {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	// The holder keeps duplicates: another goroutine may close an fd this
	// loop looked at and open another file with its number before the
	// clone.
	var keep []int
	defer func() {
		for _, fd := range keep {
			unix.Close(fd)
		}
	}()
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !slowToRelease[target] {
			continue
		}
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil
		}
		keep = append(keep, dup)
	}
	if len(keep) == 0 {
		return nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil
	}
	defer unix.Close(p[0])
	// close_range bounds of every fd but the duplicates and the pipe's
	// read end: the holder must not keep this process's output or any
	// other pipe open while the kernel detaches.
	kept := append(slices.Clone(keep), p[0])
	slices.Sort(kept)
	h := &holder{write: p[1], buf: new(byte)}
	next := 0
	for _, fd := range kept {
		if fd > next {
			h.closes = append(h.closes, uintptr(next), uintptr(fd-1))
		}
		next = fd + 1
	}
	h.closes = append(h.closes, uintptr(next), uintptr(^uint32(0)))

	// The holder starts with every signal blocked, so that none runs this
	// process's handlers, on this process's stack, in it.
	runtime.LockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	unix.PthreadSigmask(unix.SIG_SETMASK, &all, &old)
	pid, errno := cloneHolder(&h.closes[0], uintptr(len(h.closes)/2), uintptr(p[0]), h.buf)
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	runtime.UnlockOSThread()
	if errno != 0 {
		unix.Close(p[1])
		return nil
	}
	h.pid = int(pid)
	return h
}

// release lets the holder exit: the caller has closed its own links, so
// the kernel detaches them in that exit. It returns at once; the holder
// is reaped when it ends, should this process live on.
func (h *holder) release() {
	if h == nil {
		return
	}
	unix.Close(h.write)
	go func() {
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(h.pid, &ws, 0, nil); err != unix.EINTR {
				break
			}
		}
		// It read them until it ended.
		runtime.KeepAlive(h)
	}()
}
