package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// childEnv marks a re-executed ebtrace that is to become the -c command.
// It waits on fd 3 until the tracer has attached every probe, then execs
// the command in place, so the command's PID (cpid) is known before the
// programs are loaded and none of its events are missed. Fd 4, close-on-exec
// in the child, tells the tracer the exec happened: its read end sees EOF.
const childEnv = "EBTRACE_EXEC_CHILD"

type child struct {
	cmd    *exec.Cmd
	gate   *os.File      // write end; a byte releases the child
	execed chan struct{} // closed once the child has exec'd the command (or died)
	done   chan struct{} // closed once the command has exited
}

func startChild(command string) (*child, error) {
	words, err := splitCommand(command)
	if err != nil {
		return nil, err
	}
	path, err := exec.LookPath(words[0])
	if err != nil {
		return nil, fmt.Errorf("-c: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	execR, execW, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	defer execW.Close()
	cmd := exec.Command(self, words[1:]...)
	cmd.Args[0] = words[0]
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r, execW}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		execR.Close()
		return nil, fmt.Errorf("-c: %w", err)
	}
	r.Close()
	c := &child{cmd: cmd, gate: w, execed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		execR.Read(make([]byte, 1)) // EOF once the last write end closes: at exec
		execR.Close()
		close(c.execed)
	}()
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) release() error {
	_, err := c.gate.Write([]byte{1})
	c.gate.Close()
	return err
}

// kill ends a command still running when tracing stops, as bpftrace does.
// A command never released from the gate sees the pipe close and exits.
func (c *child) kill() {
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
	}
}

// runChild is the re-executed ebtrace: wait for the gate, then exec.
func runChild() {
	path := os.Getenv(childEnv)
	gate := os.NewFile(3, "gate")
	var b [1]byte
	if n, _ := gate.Read(b[:]); n != 1 {
		os.Exit(127) // the tracer went away before attaching
	}
	gate.Close()
	syscall.CloseOnExec(4)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, childEnv+"=") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(path, os.Args, env)
	fmt.Fprintf(os.Stderr, "ebtrace: -c %s: %v\n", path, err)
	os.Exit(127)
}
