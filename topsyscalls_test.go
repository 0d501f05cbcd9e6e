package ebtrace_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestTopSyscallsExample builds the separate module examples/topsyscalls,
// which imports this package through a replace directive, from the module
// cache alone, and runs it while five processes of known names make
// syscalls: it prints five lines, busiest first.
func TestTopSyscallsExample(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build examples/topsyscalls")
	}
	bin := filepath.Join(t.TempDir(), "topsyscalls")
	build := exec.Command(gotool, "build", "-o", bin, ".")
	build.Dir = filepath.Join("examples", "topsyscalls")
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build in examples/topsyscalls: %v\n%s", err, out)
	}
	requireKernel(t)
	workload := testutil.Workload(t)
	var busy, comms []string
	for _, prefix := range []string{"topa", "topb", "topc", "topd", "tope"} {
		path, comm := testutil.Renamed(t, workload, prefix)
		busy, comms = append(busy, path), append(comms, comm)
	}
	run := exec.Command(bin)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
			for _, path := range busy {
				exec.Command(path, "getppid", "1000").Run()
			}
		}
	}()
	out, err := run.Output()
	<-done
	if err != nil {
		t.Fatalf("topsyscalls: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), out)
	}
	line := regexp.MustCompile(`^ *([0-9]+) (.+)$`)
	last := int64(-1)
	ours := 0
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil || len(l) < 10 {
			t.Fatalf("line %q, want a count right-aligned in 8 columns and a name:\n%s", l, out)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		if last >= 0 && n > last {
			t.Errorf("counts not busiest first:\n%s", out)
		}
		last = n
		if slices.Contains(comms, m[2]) {
			ours++
		}
	}
	// The busy workloads make thousands of calls a second each; little
	// else on the machine comes close.
	if ours < 3 {
		t.Errorf("only %d of the five busy workloads %v are in the top five:\n%s", ours, comms, out)
	}
}
