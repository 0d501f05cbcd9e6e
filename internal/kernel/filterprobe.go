package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FilterReadsUserPointers asks the running kernel whether its event filter
// reads a char * field written without .ustring when the field points into
// user memory. Kernel builds differ: on most, the filter copies such a
// string as kernel memory, which refuses a user address and makes the
// predicate false; on others (kernels from before .ustring existed, and
// builds whose kernel-memory copy accepts user addresses) it reads the
// user's string. No version number tells which, so this tries it, once per
// process: the answer cannot change while the kernel runs.
//
// Two counting perf events on syscalls:sys_enter_openat (read from ev)
// follow this thread, one filtered on filename.ustring (the control, which
// must count) and one on the bare field, and the thread opens a name that
// exists nowhere. Without syscall events the answer is no: no other event
// carries a user pointer to test. An error says the answer could not be
// had: the control counted nothing (another BPF program on the tracepoint
// that drops events does that), or perf_event_open was refused.
func FilterReadsUserPointers(ev *Events) (bool, error) {
	filterProbe.once.Do(func() {
		openat, err := ev.Format("syscalls", "sys_enter_openat")
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			filterProbe.err = err
			return
		}
		filterProbe.yes, filterProbe.err = probeFilterPointers(openat)
	})
	return filterProbe.yes, filterProbe.err
}

var filterProbe struct {
	once sync.Once
	yes  bool
	err  error
}

func probeFilterPointers(openat *Format) (bool, error) {
	// The events follow one thread: the openat must come from it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	marker := fmt.Sprintf("/nonexistent/ebtrace-filter-probe-%d", os.Getpid())
	plain, err := openFilteredCounter(openat.ID, fmt.Sprintf("filename == %q", marker))
	if err != nil {
		return false, err
	}
	defer unix.Close(plain)
	control, err := openFilteredCounter(openat.ID, fmt.Sprintf("filename.ustring == %q", marker))
	switch {
	case errors.Is(err, unix.EINVAL):
		// No .ustring: a kernel from before it, whose filter read user
		// addresses for a bare char *; the plain count alone answers.
		control = -1
	case err != nil:
		return false, err
	default:
		defer unix.Close(control)
	}
	for _, fd := range []int{plain, control} {
		if fd >= 0 {
			if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
				return false, fmt.Errorf("enabling the filter probe's counter: %w", err)
			}
		}
	}
	if fd, err := unix.Openat(unix.AT_FDCWD, marker, unix.O_RDONLY, 0); err == nil {
		unix.Close(fd)
	}
	plainCount, err := readCounter(plain)
	if err != nil {
		return false, err
	}
	if control >= 0 {
		controlCount, err := readCounter(control)
		if err != nil {
			return false, err
		}
		if controlCount == 0 {
			return false, errors.New("cannot tell how this kernel's event filter reads a char * without .ustring: the probe's sys_enter_openat event was not counted even with .ustring (does another BPF program on that tracepoint drop events?)")
		}
	}
	return plainCount > 0, nil
}

// openFilteredCounter opens tracepoint id, disabled, counting for this
// thread on any CPU, with an ftrace filter.
func openFilteredCounter(id uint32, filter string) (int, error) {
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_TRACEPOINT,
		Config: uint64(id),
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Bits:   unix.PerfBitDisabled,
	}
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("perf_event_open for the filter probe: %w", err)
	}
	if err := unix.IoctlSetString(fd, unix.PERF_EVENT_IOC_SET_FILTER, filter); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("the kernel refuses filter %q: %w", filter, err)
	}
	return fd, nil
}

func readCounter(fd int) (uint64, error) {
	var buf [8]byte
	if _, err := unix.Read(fd, buf[:]); err != nil {
		return 0, fmt.Errorf("reading the filter probe's counter: %w", err)
	}
	return binary.NativeEndian.Uint64(buf[:]), nil
}
