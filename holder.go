package ebtrace

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// holderEnv marks a copy of this program started only to hold the BPF
// links and perf events a session leaves, and to exit at once.
const holderEnv = "EBTRACE_HOLD"

func init() {
	if os.Getenv(holderEnv) != "" {
		os.Exit(0)
	}
}

// slowToRelease are the kinds of file whose last close makes the kernel
// wait: a tracepoint's perf event waits out RCU grace periods as it is
// unregistered (tens of milliseconds each, one after another under the
// kernel's event mutex), and a link's release waits for one since 6.13.
var slowToRelease = map[string]bool{"anon_inode:bpf_link": true, "anon_inode:[perf_event]": true}

// handOff starts a copy of this program that inherits a copy of every BPF
// link and perf event this process holds, and exits at once: the kernel
// then detaches them in that copy's exit, and this process's own closes
// only drop references. Tracing has stopped and the output is final, so
// no one waits for the kernel's detach. It returns false when there was
// nothing to hand off or the copy could not start; the caller's closes
// then wait as they always did, and nothing is left attached either way.
func handOff() bool {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return false
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
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
			return false
		}
		files = append(files, os.NewFile(uintptr(dup), target))
	}
	if len(files) == 0 {
		return false
	}
	self, err := os.Executable()
	if err != nil {
		return false
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), holderEnv+"=1")
	cmd.ExtraFiles = files
	// Its own process group: a Ctrl-C meant for this process's group
	// does not reach it (it would only make it exit, as it does anyway).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return false
	}
	go cmd.Wait() // reaped when it exits, if this process is still there
	return true
}
