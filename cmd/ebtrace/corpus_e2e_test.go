package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// toolDirs are where bpftrace's own tools are looked for: where Debian's
// bpftrace package installs them, then where setup.sh extracts them from
// that package without installing it.
var toolDirs = []string{"/usr/sbin", "/var/cache/ebtrace/bpftrace-tools"}

// knownGaps are the tools that ebtrace cannot compile yet, each with the
// start of the error it gives and why. A tool listed here may also pass
// (another kernel, or the gap closed): the test then says so, and once it
// passes on the development machines and in vm/run.sh's kernels, the line
// should go. Every other tool must pass --dry-run or fail only on a kernel
// feature this kernel lacks.
var knownGaps = map[string]struct{ err, why string }{
	"runqlen.bt": {"error: struct cfs_rq has no member nr_running", "written for kernels whose cfs_rq had nr_running (Debian's 6.1 and 6.12 have it, and it passes there; bpftrace fails the same way here)"},
}

// missingHere reports whether stderr blames what this system lacks: a
// kernel feature (kprobes; data symbols in /proc/kallsyms, as loads.bt's
// avenrun), the kernel's own headers (runqlat.bt's TASK_RUNNING), or every
// function, binary or event the tool probes (as threadsnoop's
// pthread_create, in libc rather than libpthread since glibc 2.34).
// These are the acceptable failures of a tool that compiles.
func missingHere(stderr string) bool {
	for _, reason := range []string{
		"this kernel has no", "the kernel refuses", "this kernel cannot",
		"hint: no probe of the script exists on this system",
		"built without CONFIG_KALLSYMS_ALL", "is a macro of the kernel's own <",
	} {
		if strings.Contains(stderr, reason) {
			return true
		}
	}
	return false
}

// TestBpftraceTools runs every tool Debian's bpftrace package ships through
// --dry-run: each must compile and pass the verifier, or fail only on what
// this system lacks, or on its known gap. The scripts are
// read from the package; none of them is kept in this repository.
func TestBpftraceTools(t *testing.T) {
	var tools []string
	for _, dir := range toolDirs {
		if tools, _ = filepath.Glob(filepath.Join(dir, "*.bt")); len(tools) > 0 {
			break
		}
	}
	if len(tools) == 0 {
		t.Skipf("no bpftrace tools in %s: setup.sh extracts them from Debian's bpftrace package", strings.Join(toolDirs, " or "))
	}
	seen := map[string]bool{}
	for _, tool := range tools {
		name := filepath.Base(tool)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			// In parallel: under QEMU's emulation (vm/run.sh) the tools
			// take a few seconds each to compile and verify.
			t.Parallel()
			r := runCLI(t, "--dry-run", tool)
			gap, known := knownGaps[name]
			switch {
			case r.code == 0:
				if known {
					t.Logf("%s now passes --dry-run here (%s): once it passes everywhere, remove it from knownGaps", name, gap.why)
				}
			case known && strings.Contains(r.stderr, gap.err):
				t.Logf("known gap: %s (%s)", gap.err, gap.why)
			case missingHere(r.stderr):
				first, _, _ := strings.Cut(strings.TrimSpace(r.stderr), "\n")
				t.Logf("missing here: %s", first)
			default:
				t.Errorf("exit %d:\n%s", r.code, r.stderr)
			}
			if strings.Contains(r.stderr, "panic:") {
				t.Errorf("ebtrace panicked:\n%s", r.stderr)
			}
		})
	}
	for name := range knownGaps {
		if !seen[name] {
			t.Logf("%s is listed in knownGaps but the package has no such tool", name)
		}
	}
}
