package ebtrace

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// command is Options.Command. It starts under ptrace, which stops it
// right after its exec, before it runs an instruction of its own: its pid
// (cpid) is known before the programs load, and none of its events are
// missed. Releasing it detaches. ptrace requests must come from the
// thread that started it, so one goroutine locked to its thread makes
// them all.
type command struct {
	cmd      *exec.Cmd
	run      chan bool  // true lets the command go on, false kills it
	released chan error // the outcome of run's request
	done     chan struct{}
}

func startCommand(argv []string) (*command, error) {
	c := &command{run: make(chan bool), released: make(chan error, 1), done: make(chan struct{})}
	started := make(chan error)
	go c.hold(argv, started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	return c, nil
}

// hold starts the command, keeps it stopped until run says, and waits
// for it.
func (c *command) hold(argv []string, started chan<- error) {
	defer close(c.done)
	// Never unlocked: the thread ends with the goroutine, and with it the
	// tracer's role.
	runtime.LockOSThread()
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := c.cmd.Start(); err != nil {
		started <- err
		return
	}
	pid := c.cmd.Process.Pid
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || !ws.Stopped() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		started <- errors.Join(err, fmt.Errorf("%s did not stop at its exec (%v)", argv[0], ws))
		return
	}
	started <- nil
	if <-c.run {
		c.released <- unix.PtraceDetach(pid)
	} else {
		c.cmd.Process.Kill()
		c.released <- nil
	}
	c.cmd.Wait()
}

func (c *command) pid() int { return c.cmd.Process.Pid }

// release lets the command run.
func (c *command) release() error {
	c.run <- true
	return <-c.released
}

// kill ends the command if it still runs, as the command line does when
// tracing stops, and waits for it: one never released is killed where it
// stopped, one running is sent SIGTERM, then SIGKILL a second later.
func (c *command) kill() {
	select {
	case c.run <- false:
		<-c.released
		<-c.done
		return
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}
