package ebtrace_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// copies returns the processes, zombies included, that this process
// forked without an exec since: the children with its own name.
func copies(t *testing.T) []string {
	t.Helper()
	self, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // it ended meanwhile
		}
		// pid (comm) state ppid ...
		open, close := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
		if open < 0 || close < open {
			t.Fatalf("%s: %q", path, stat)
		}
		var state string
		var ppid int
		if _, err := fmt.Sscanf(string(stat[close+1:]), " %s %d", &state, &ppid); err != nil {
			t.Fatalf("%s: %q: %v", path, stat, err)
		}
		if ppid == os.Getpid() && string(stat[open+1:close]) == strings.TrimSuffix(string(self), "\n") {
			out = append(out, string(stat[:close+1])+" "+state)
		}
	}
	return out
}

// A program that embeds the package lives on after its sessions: the
// copy of it that held a session's links while the kernel detached them
// ends and is reaped, and the session's links and programs are gone.
func TestHandOffReaped(t *testing.T) {
	requireKernel(t)
	// Those of earlier tests' sessions may still be detaching.
	waitFor(t, func() bool { return len(copies(t)) == 0 })
	progs, links := testutil.BPFObjects(t, os.Getpid())
	sess, cancel := start(t, "tracepoint:syscalls:sys_enter_getppid { @ = count(); }", ebtrace.Options{})
	running, attached := testutil.BPFObjects(t, os.Getpid())
	running = slices.DeleteFunc(running, func(id int) bool { return slices.Contains(progs, id) })
	attached = slices.DeleteFunc(attached, func(id int) bool { return slices.Contains(links, id) })
	if len(attached) != 1 {
		t.Fatalf("the session attached links %v, want one", attached)
	}
	cancel()
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	var left string
	defer func() {
		if t.Failed() {
			t.Logf("left after the session: %s", left)
		}
	}()
	waitFor(t, func() bool {
		for _, id := range running {
			if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
				p.Close()
				left = fmt.Sprintf("program %d", id)
				return false
			}
		}
		if l, err := link.NewFromID(link.ID(attached[0])); err == nil {
			l.Close()
			left = fmt.Sprintf("link %d", attached[0])
			return false
		}
		c := copies(t)
		left = fmt.Sprintf("copies %v", c)
		return len(c) == 0
	})
}
