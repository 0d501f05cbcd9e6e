package ebtrace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// processWatch notices when a process exits, through its pidfd.
type processWatch struct {
	exited chan struct{} // closed when the process has exited
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed once the pidfd is closed
}

// watchProcess starts watching process pid; it fails at once when there
// is no such process.
func watchProcess(pid int) (*processWatch, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, err)
	}
	w := &processWatch{exited: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer unix.Close(fd)
		// Poll with a timeout, so that Close returns soon: no other
		// goroutine may close the pidfd while this one polls it.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			if n, err := unix.Poll(fds, 100); n > 0 || err != nil && err != unix.EINTR {
				close(w.exited)
				return
			}
		}
	}()
	return w, nil
}

// Exited is closed when the process has exited.
func (w *processWatch) Exited() <-chan struct{} { return w.exited }

// Close stops watching and releases the pidfd.
func (w *processWatch) Close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}
