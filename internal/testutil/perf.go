package testutil

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// PerfFilterCount opens a counting perf event on the tracepoint with the
// given ID on every CPU, for every task, attaches prog with
// PERF_EVENT_IOC_SET_BPF, the way a BPF filter is attached to a recorded
// event, and enables them. The returned function reads how many events the
// program kept, summed over the CPUs. The kernel counts an event only when
// every program on the tracepoint returns non-zero, so another program
// attached to the same tracepoint that returns 0 (any ebtrace script's)
// hides them all; callers in this module take turns through a lock file.
func PerfFilterCount(t testing.TB, id uint32, prog *ebpf.Program) func() uint64 {
	t.Helper()
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_TRACEPOINT,
		Config: uint64(id),
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Bits:   unix.PerfBitDisabled,
	}
	// Tests of other packages counting on the same tracepoint would hide
	// each other's events: take turns.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("ebtrace-perf-filter-%d.lock", id)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}
	var files []*os.File
	for cpu := range runtime.NumCPU() {
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EOPNOTSUPP) {
			t.Skipf("this kernel has no tracepoint perf events (CONFIG_PERF_EVENTS): perf_event_open on tracepoint %d, CPU %d: %v", id, cpu, err)
		}
		if err != nil {
			t.Fatalf("perf_event_open on tracepoint %d, CPU %d: %v", id, cpu, err)
		}
		f := os.NewFile(uintptr(fd), "perf-event")
		t.Cleanup(func() { f.Close() })
		// The kernel keeps the program in the tracepoint's list, which
		// every perf event on the tracepoint runs: attaching it again to
		// another CPU's event fails with EEXIST.
		if cpu == 0 {
			if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
				t.Fatalf("PERF_EVENT_IOC_SET_BPF: %v", err)
			}
		}
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			t.Fatalf("PERF_EVENT_IOC_ENABLE: %v", err)
		}
		files = append(files, f)
	}
	return func() uint64 {
		var sum uint64
		for _, f := range files {
			var buf [8]byte
			if _, err := f.Read(buf[:]); err != nil {
				t.Fatalf("read perf count: %v", err)
			}
			sum += binary.NativeEndian.Uint64(buf[:])
		}
		return sum
	}
}
