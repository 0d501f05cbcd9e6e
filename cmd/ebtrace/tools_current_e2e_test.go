package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestCurrentDialectTools runs five of Debian's bpftrace tools next to their
// rewrites in the current dialect (examples/current): both at once, on the
// same events of one workload, and compares what they print: the headers,
// and every line about the workload's process. Columns that differ between
// any two runs (the wall-clock time a line was printed, the milliseconds
// since each tracer began) are left out, skip counting them from the left.
func TestCurrentDialectTools(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	wl := testutil.Workload(t)
	for _, c := range []struct {
		tool string
		run  []string
		skip int
	}{
		{"opensnoop.bt", []string{"open", "/etc/hostname", "/nonexistent/file"}, 0},
		{"killsnoop.bt", []string{"kill", "999999", "0"}, 1},
		{"execsnoop.bt", []string{"exec", wl, "getppid", "1"}, 1},
		{"syncsnoop.bt", []string{"fsync", "/etc/hostname"}, 1},
		{"naptime.bt", []string{"nanosleep", "1100"}, 1},
	} {
		t.Run(c.tool, func(t *testing.T) {
			original := ""
			for _, dir := range toolDirs {
				if p := filepath.Join(dir, c.tool); fileExists(p) {
					original = p
					break
				}
			}
			if original == "" {
				t.Skipf("no %s in %s: setup.sh extracts Debian's bpftrace tools", c.tool, strings.Join(toolDirs, " or "))
			}
			tracers := []*toolRun{startTracer(t, bin, original), startTracer(t, bin, filepath.Join("../../examples/current", c.tool))}
			work := exec.Command(wl, c.run...)
			if out, err := work.CombinedOutput(); err != nil {
				t.Fatalf("workload %v: %v: %s", c.run, err, out)
			}
			time.Sleep(200 * time.Millisecond) // the last events reach both tracers
			var got [2][]string
			for i, tr := range tracers {
				got[i] = tr.stop(t, work.Process.Pid, c.skip)
			}
			if !slices.Equal(got[0], got[1]) {
				t.Errorf("%s printed\n%s\nits rewrite printed\n%s", original, strings.Join(got[0], "\n"), strings.Join(got[1], "\n"))
			}
			if len(got[1]) < 2 {
				t.Errorf("no line about the workload (pid %d):\n%s", work.Process.Pid, tracers[1].out.String())
			}
		})
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// toolRun is an ebtrace running a tool in the background.
type toolRun struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	stderr *testutil.Buffer
}

func startTracer(t *testing.T, bin, script string) *toolRun {
	t.Helper()
	tr := &toolRun{stderr: &testutil.Buffer{}}
	tr.cmd = exec.Command(bin, script)
	tr.cmd.Stdout, tr.cmd.Stderr = &tr.out, tr.stderr
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.cmd.Process.Kill() })
	waitFor(t, func() bool { return strings.Contains(tr.stderr.String(), "Attached") })
	return tr
}

// stop ends the tracer with SIGINT and returns its header lines (up to the
// one naming the PID column) and its lines about process pid, without
// their first skip columns.
func (tr *toolRun) stop(t *testing.T, pid, skip int) []string {
	t.Helper()
	tr.cmd.Process.Signal(syscall.SIGINT)
	if err := tr.cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, tr.stderr.String())
	}
	lines := strings.Split(tr.out.String(), "\n")
	var kept []string
	header := true
	for _, line := range lines {
		fields := strings.Fields(line)
		if header {
			kept = append(kept, line)
			header = !slices.Contains(fields, "PID")
			continue
		}
		if slices.Contains(fields, strconv.Itoa(pid)) {
			kept = append(kept, afterFields(line, skip))
		}
	}
	return kept
}

// afterFields returns line without its first n whitespace-separated
// fields and the padding after them (whose width depends on theirs),
// keeping the spacing of the rest.
func afterFields(line string, n int) string {
	if n == 0 {
		return line
	}
	for range n {
		line = strings.TrimLeft(line, " ")
		if i := strings.IndexByte(line, ' '); i >= 0 {
			line = line[i:]
		} else {
			line = ""
		}
	}
	return strings.TrimLeft(line, " ")
}
