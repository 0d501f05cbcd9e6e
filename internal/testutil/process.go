package testutil

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Gated is a test program started with a "wait" argument: it blocks until
// a line arrives on its standard input, so a tracer can attach to its PID
// before it does its work.
type Gated struct {
	Cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartGated starts path with args, which must make it wait for a line on
// stdin, and returns once it runs path (its exec is done, so /proc/PID
// names the program). The process is killed when the test ends.
func StartGated(t testing.TB, path string, args ...string) *Gated {
	t.Helper()
	cmd := exec.Command(path, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	want, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)); exe == want {
			return &Gated{Cmd: cmd, stdin: stdin}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never ran %s", cmd.Process.Pid, path)
		}
	}
}

// Pid is the process's ID.
func (g *Gated) Pid() int { return g.Cmd.Process.Pid }

// Release lets the process go on and waits for it to exit successfully.
func (g *Gated) Release(t testing.TB) {
	t.Helper()
	io.WriteString(g.stdin, "go\n")
	if err := g.Cmd.Wait(); err != nil {
		t.Fatalf("%s: %v", g.Cmd, err)
	}
}

// Renamed copies the binary at path into the test's temporary directory
// under a name made of prefix and this test process's PID, and returns the
// copy and that name: its comm, which a script can filter on without
// seeing other test processes' runs of the same program.
func Renamed(t testing.TB, path, prefix string) (copy, comm string) {
	t.Helper()
	comm = fmt.Sprintf("%s%d", prefix, os.Getpid())
	copy = filepath.Join(t.TempDir(), comm)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copy, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return copy, comm
}
