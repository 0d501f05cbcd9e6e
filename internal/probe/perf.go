package probe

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// AttachPerfEvent opens the perf event attr on cpu, for every process,
// and links prog to it; closing the result detaches prog and closes the
// event. It serves every probe type that samples on perf events (profile,
// software, hardware, interval).
func AttachPerfEvent(attr *unix.PerfEventAttr, cpu int, prog *ebpf.Program) (io.Closer, error) {
	fd, err := unix.PerfEventOpen(attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open perf event on CPU %d: %w", cpu, err)
	}
	l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link perf event on CPU %d: %w", cpu, err)
	}
	return &perfLink{link: l, fd: fd}, nil
}

// perfLink is a program linked to a perf event it owns.
type perfLink struct {
	link link.Link
	fd   int
}

func (p *perfLink) Close() error {
	return errors.Join(p.link.Close(), unix.Close(p.fd))
}
