package ebtrace

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// commandEnv marks a copy of this program re-executed to become
// Options.Command: package ebtrace's init sees it and, instead of letting
// the program run, waits on fd 3 until every probe is attached, then
// execs the command in its place. So the command's pid (cpid) is known
// before the programs load, and its every event is seen, its own execve
// included, as with bpftrace's -c. Fd 4, close-on-exec in the copy, tells
// the session that the copy reached the gate (one byte: its own start-up,
// which would be traced as the command's, is over) and then that the exec
// happened (EOF).
const commandEnv = "EBTRACE_EXEC_COMMAND"

func init() {
	if path := os.Getenv(commandEnv); path != "" {
		becomeCommand(path)
	}
}

// command is Options.Command, held at its gate until release.
type command struct {
	cmd    *exec.Cmd
	gate   *os.File      // write end; a byte releases the command
	execed chan struct{} // closed once the command has been exec'd (or the copy died)
	done   chan struct{} // closed once the command has exited
}

// startCommand starts a copy of this program that will become argv once
// released. The command shares this process's standard input, output and
// error.
func startCommand(argv []string) (*command, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	execR, execW, err := os.Pipe()
	if err != nil {
		gateR.Close()
		gateW.Close()
		return nil, err
	}
	defer gateR.Close()
	defer execW.Close()
	cmd := exec.Command(self, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = append(os.Environ(), commandEnv+"="+path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{gateR, execW}
	if err := cmd.Start(); err != nil {
		gateW.Close()
		execR.Close()
		return nil, fmt.Errorf("command: %w", err)
	}
	if n, _ := execR.Read(make([]byte, 1)); n != 1 {
		gateW.Close()
		execR.Close()
		cmd.Wait()
		return nil, fmt.Errorf("command: the copy of this program that becomes %s ended before it reached its gate", argv[0])
	}
	c := &command{cmd: cmd, gate: gateW, execed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		execR.Read(make([]byte, 1)) // EOF once the last write end closes: at the exec
		execR.Close()
		close(c.execed)
	}()
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *command) pid() int { return c.cmd.Process.Pid }

// release lets the command run.
func (c *command) release() error {
	_, err := c.gate.Write([]byte{1})
	c.gate.Close()
	return err
}

// kill ends the command if it still runs, as the command line does when
// tracing stops, and waits for it: one never released sees its gate close
// and exits; one running is sent SIGTERM, then SIGKILL a second later.
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

// becomeCommand is the re-executed copy: wait at the gate, then exec the
// command at path with this process's arguments.
func becomeCommand(path string) {
	execed := os.NewFile(4, "execed")
	execed.Write([]byte{1}) // at the gate
	gate := os.NewFile(3, "gate")
	var b [1]byte
	if n, _ := gate.Read(b[:]); n != 1 {
		os.Exit(127) // the session ended before it attached
	}
	gate.Close()
	syscall.CloseOnExec(4)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, commandEnv+"=") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(path, os.Args, env)
	fmt.Fprintf(os.Stderr, "ebtrace: command %s: %v\n", path, err)
	os.Exit(127)
}
