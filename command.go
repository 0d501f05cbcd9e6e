package ebtrace

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// gate is the shell script that holds Options.Command: it waits for a line
// on descriptor 3, written once every probe is attached, then execs the
// command in its own place, so that the pid known before loading (cpid) is
// the command's and none of its events are missed. A gate closed without
// a line (the session failed to start) makes it exit.
const gate = `read -r _ <&3 || exit 127; exec 3<&-; exec "$0" "$@"`

// command is Options.Command, held at the gate until released.
type command struct {
	cmd  *exec.Cmd
	gate *os.File      // write end of the gate
	done chan struct{} // closed once the command has exited
}

func startCommand(argv []string) (*command, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", gate}, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("command: %w", err)
	}
	c := &command{cmd: cmd, gate: w, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *command) pid() int { return c.cmd.Process.Pid }

// release lets the command run.
func (c *command) release() error {
	_, err := c.gate.Write([]byte("\n"))
	c.gate.Close()
	return err
}

// kill ends the command if it still runs, as the command line does when
// tracing stops, and waits for it.
func (c *command) kill() {
	c.gate.Close()
	select {
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
