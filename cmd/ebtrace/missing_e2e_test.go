package main

import (
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/probe/kprobe"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestMissingProbeSkipped runs a probe list with one tracepoint that does
// not exist: by default ebtrace says so once, as a warning under the
// attach point, and traces the rest; missing_probes = error stops.
func TestMissingProbeSkipped(t *testing.T) {
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	script := "tracepoint:syscalls:sys_enter_nosuch, tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); }"
	r := runCLI(t, "-e", script, "-c", wl+" getppid 3")
	r.want(t, 0, "\n\n@: 3\n")
	if want := `stdin:1:1: warning: tracepoint:syscalls:sys_enter_nosuch does not exist on this kernel
    ` + script + `
    ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
hint: skipped: missing_probes = warn (set it to error to stop, or ignore to say nothing)
Attached 1 probe
`; r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	r = ebtraceEnv(t, []string{"BPFTRACE_MISSING_PROBES=error"}, "-e", script, "-c", wl+" getppid 3")
	r.want(t, 1, "")
	if !strings.HasPrefix(r.stderr, "stdin:1:1: error: tracepoint:syscalls:sys_enter_nosuch does not exist on this kernel\n") {
		t.Errorf("missing_probes = error: stderr:\n%s", r.stderr)
	}
}

// TestMissingProbeAfterConditional: the warning points at the attach point
// as written, below a conditional group the preprocessor left out (as
// bpftrace's tools open with #ifndef BPFTRACE_HAVE_BTF).
func TestMissingProbeAfterConditional(t *testing.T) {
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	script := "#ifndef BPFTRACE_HAVE_BTF\n#include <linux/blkdev.h>\n#endif\n" +
		"BEGIN { printf(\"%-12s %-7s\\n\", \"TIME(ms)\", \"DISK\"); }\n" +
		"tracepoint:syscalls:sys_enter_nosuch,\ntracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); }\n"
	r := runCLI(t, "-e", script, "-c", wl+" getppid 1")
	if !strings.HasPrefix(r.stderr, "stdin:5:1: warning: tracepoint:syscalls:sys_enter_nosuch does not exist on this kernel\n    tracepoint:syscalls:sys_enter_nosuch,\n    ^~~") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// TestSkippedProbeMaps: maps that only a skipped probe assigns are empty
// while the script runs, as biolatency's @start on a kernel without its
// start functions: reading gives 0, delete() does nothing, and they print
// empty at exit.
func TestSkippedProbeMaps(t *testing.T) {
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_nosuch { @start[tid] = nsecs; @n++; }
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @seen[@start[tid]] = count(); delete(@start[tid]); }`
	r := runCLI(t, "-e", script, "-c", wl+" getppid 2")
	r.want(t, 0, "\n\n@seen[0]: 2\n\n")
}

// TestKprobeMissingFunction: a kprobe on a function that does not exist
// says first that the kernel has no kprobes, where it has none, and that
// the function does not exist only where kprobes could attach.
func TestKprobeMissingFunction(t *testing.T) {
	r := runCLI(t, "-e", "kprobe:vfs_raed { @ = count(); }")
	r.want(t, 1, "")
	want := "stdin:1:1: error: kprobe:vfs_raed: no kernel function vfs_raed\n"
	missing := kprobe.Available()
	if missing != nil {
		want = "ebtrace: kprobe:vfs_raed: " + missing.Error() + "; use a tracepoint or raw tracepoint instead (list them with: ebtrace -l 'tracepoint:*')\n"
	} else if !strings.Contains(r.stderr, "hint: did you mean vfs_read") {
		t.Errorf("no close name in:\n%s", r.stderr)
	}
	if !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr:\n%s\nwant it to start with:\n%s", r.stderr, want)
	}
	if missing != nil {
		r = runCLI(t, "-e", "kprobe:blk_account_io_start, kprobe:__blk_account_io_start { @ = count(); }")
		if !strings.Contains(r.stderr, "this kernel has no kprobes") || r.code != 1 {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	}
}
