package record

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// errOtherPrograms: the tracepoint already runs another BPF program. The
// kernel keeps a perf sample only when every program on the tracepoint
// returns non-zero, so another tool's program would drop samples this
// filter keeps; the ring buffer path does not depend on the others.
var errOtherPrograms = errors.New("another BPF program is attached to the tracepoint")

const dropLabel = "record_drop"

// perfFilter wraps a filter body: events the process check rejects are
// dropped before the body runs.
func perfFilter(body asm.Instructions, check processCheck) asm.Instructions {
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	insns = append(insns, check.insns()...)
	insns = append(insns, asm.Mov.Reg(asm.R1, asm.R6))
	insns = append(insns, body...)
	return append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol(dropLabel), asm.Return())
}

// processCheck selects events by process: only pid's (-p, -c), or all but
// pid's, so that a system-wide recording leaves out ebtrace's own syscalls,
// which writing the recording would otherwise feed back into it.
type processCheck struct {
	pid  int
	only bool
}

// insns jumps to dropLabel when the current process fails the check.
func (c processCheck) insns() asm.Instructions {
	drop := asm.JEq
	if c.only {
		drop = asm.JNE
	}
	return asm.Instructions{
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		drop.Imm(asm.R0, int32(c.pid), dropLabel),
	}
}

// perfSource reads the per-CPU perf buffers; each CPU's sample ring is
// owned by the first event's descriptor there, the others redirected into
// it, and a side ring holds the CPU's comm changes.
type perfSource struct {
	fds     []int       // every descriptor: tracepoints, ring owners and side bands included
	samples map[int]int // a tracepoint descriptor's CPU
	rings   []*ring
	epfd    int
	events  []unix.EpollEvent
	lost    []uint64 // from the lost records

	// Each event's descriptor that holds its program, to see other
	// programs join the tracepoint later; warned once each.
	attached []attachedEvent
	warn     io.Writer
}

type attachedEvent struct {
	fd     int
	name   kernel.Tracepoint
	warned bool
}

// sidebandPages is the size of a CPU's comm ring.
const sidebandPages = 8

// openPerf opens each event on each online CPU, attaches progs[i] to
// event i (once: a tracepoint's programs filter its samples on every CPU)
// and enables the events. The events hold their own references to the
// programs, so the caller may close progs once this returns.
func openPerf(formats []*kernel.Format, progs []*ebpf.Program, bufferSize int, warn io.Writer) (_ *perfSource, err error) {
	page := os.Getpagesize()
	pages := 1
	for pages*page < bufferSize {
		pages *= 2
	}
	s := &perfSource{epfd: -1, samples: map[int]int{}, lost: make([]uint64, ebpfPossibleCPUs()), warn: warn}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	firsts := make([]int, len(formats)) // each event's descriptor on its first CPU
	for cpu := range s.lost {
		side, err := openSideband(cpu)
		if errors.Is(err, unix.ENODEV) {
			continue // an offline CPU
		}
		if err != nil {
			return nil, err
		}
		s.fds = append(s.fds, side)
		if err := s.addRing(side, cpu, sidebandPages); err != nil {
			return nil, err
		}
		owner := -1
		for i, f := range formats {
			fd, err := openTracepoint(f.ID, cpu, uint32(pages*page/2))
			if err != nil {
				return nil, err
			}
			s.fds = append(s.fds, fd)
			s.samples[fd] = cpu
			if owner < 0 {
				owner = fd
				if err := s.addRing(fd, cpu, pages); err != nil {
					return nil, err
				}
			} else if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_OUTPUT, owner); err != nil {
				return nil, fmt.Errorf("redirect %s into the CPU %d buffer: %w", f.Tracepoint, cpu, err)
			}
			if firsts[i] == 0 {
				firsts[i] = fd
			}
		}
	}
	if len(s.rings) == 0 {
		return nil, errors.New("no online CPU could open the events")
	}
	s.events = make([]unix.EpollEvent, len(s.rings))
	for i, f := range formats {
		if err := unix.IoctlSetInt(firsts[i], unix.PERF_EVENT_IOC_SET_BPF, progs[i].FD()); err != nil {
			return nil, fmt.Errorf("%w: %s: PERF_EVENT_IOC_SET_BPF: %w", errOtherPrograms, f.Tracepoint, err)
		}
		n, err := tracepointPrograms(firsts[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Tracepoint, err)
		}
		if n > 1 {
			return nil, fmt.Errorf("%w (%s runs %d)", errOtherPrograms, f.Tracepoint, n)
		}
		s.attached = append(s.attached, attachedEvent{fd: firsts[i], name: f.Tracepoint})
	}
	for _, fd := range s.fds {
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			return nil, fmt.Errorf("enable perf event: %w", err)
		}
	}
	return s, nil
}

func (s *perfSource) addRing(fd, cpu, pages int) error {
	r, err := newRing(fd, cpu, pages)
	if err != nil {
		return err
	}
	s.rings = append(s.rings, r)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(len(s.rings) - 1)}
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	return nil
}

// tracepointPrograms counts the BPF programs attached to the tracepoint
// of perf event fd (PERF_EVENT_IOC_QUERY_BPF, no ids asked for).
func tracepointPrograms(fd int) (int, error) {
	var query struct{ idsLen, progCount uint32 }
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.PERF_EVENT_IOC_QUERY_BPF, uintptr(unsafe.Pointer(&query)))
	if errno != 0 {
		return 0, fmt.Errorf("PERF_EVENT_IOC_QUERY_BPF: %w", errno)
	}
	return int(query.progCount), nil
}

func (s *perfSource) poll(wait time.Duration, deliver func(item)) error {
	s.watchOthers()
	if wait > 0 {
		_, err := unix.EpollWait(s.epfd, s.events, int(wait/time.Millisecond))
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("epoll_wait: %w", err)
		}
	}
	for _, r := range s.rings {
		s.drain(r, deliver)
	}
	return nil
}

// watchOthers warns when another program has joined a tracepoint since
// the recording began: its verdicts now drop samples too.
func (s *perfSource) watchOthers() {
	for i := range s.attached {
		a := &s.attached[i]
		if a.warned || s.warn == nil {
			continue
		}
		if n, err := tracepointPrograms(a.fd); err == nil && n > 1 {
			a.warned = true
			fmt.Fprintf(s.warn, "ebtrace record: warning: another BPF program attached to %s; the events it rejects are no longer recorded\n", a.name)
		}
	}
}

func (s *perfSource) drain(r *ring, deliver func(item)) {
	for {
		rec, ok := r.next()
		if !ok {
			break
		}
		switch rec.kind {
		case unix.PERF_RECORD_SAMPLE:
			h, raw, ok := parseSample(rec.body)
			if ok {
				deliver(item{time: h.time, cpu: int(h.cpu), pid: int(h.pid), tid: int(h.tid), raw: append([]byte(nil), raw...)})
			}
		case unix.PERF_RECORD_COMM:
			if tid, comm, t, ok := parseComm(rec.body); ok {
				deliver(item{time: t, cpu: r.cpu, tid: int(tid), comm: comm})
			}
		case unix.PERF_RECORD_FORK:
			if tid, ppid, parent, t, ok := parseFork(rec.body); ok && tid != parent {
				deliver(item{time: t, cpu: r.cpu, pid: int(ppid), tid: int(tid), parentTID: int(parent)})
			}
		case unix.PERF_RECORD_LOST:
			if n, ok := parseLost(rec.body); ok && r.cpu < len(s.lost) {
				s.lost[r.cpu] += n
			}
		}
	}
	r.release()
}

// lostCounts takes, for each CPU, the larger of what the lost records
// said and what its events count as lost: the kernel writes a lost record
// only once the ring has room again, so the last losses may have none.
func (s *perfSource) lostCounts() []uint64 {
	counted := make([]uint64, len(s.lost))
	for fd, cpu := range s.samples {
		if n, err := readLost(fd); err == nil && cpu < len(counted) {
			counted[cpu] += n
		}
	}
	for cpu := range counted {
		counted[cpu] = max(counted[cpu], s.lost[cpu])
	}
	return counted
}

func (s *perfSource) stop() {
	for _, fd := range s.fds {
		unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_DISABLE, 0)
	}
}

func (s *perfSource) close() error {
	s.stop()
	var errs []error
	for _, r := range s.rings {
		errs = append(errs, unix.Munmap(r.mem))
	}
	for _, fd := range s.fds {
		errs = append(errs, unix.Close(fd))
	}
	if s.epfd >= 0 {
		errs = append(errs, unix.Close(s.epfd))
	}
	return errors.Join(errs...)
}
