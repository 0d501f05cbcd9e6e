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
// (another kernel, or the gap closed): the test then says so, and the line
// should go. Every other tool must pass --dry-run or fail only on a kernel
// feature this kernel lacks.
var knownGaps = map[string]struct{ err, why string }{
	"gethostlatency.bt": {"error: str() needs a pointer or a string, not int64", "str() of an address kept in a map (issue 11, part 5)"},
	"opensnoop.bt":      {"error: str() needs a pointer or a string, not int64", "str() of an address kept in a map (issue 11, part 5)"},
	"statsnoop.bt":      {"error: str() needs a pointer or a string, not int64", "str() of an address kept in a map (issue 11, part 5)"},
	"loads.bt":          {`error: kernel symbol "avenrun" does not exist`, "kernel data symbols: /proc/kallsyms lists functions only here"},
	"runqlat.bt":        {`error: unknown identifier "TASK_RUNNING"`, "a macro of the kernel's own <linux/sched.h>, which /usr/include lacks (issue 11, part 4)"},
	"runqlen.bt":        {"error: struct cfs_rq has no member nr_running", "written for kernels whose cfs_rq had nr_running"},
	"syscount.bt":       {"error: print() takes 1 argument(s), got 2", "print(@m, N) (issue 11, part 5)"},
	"tcpaccept.bt":      {"error: ntop() needs an IPv4 address", "ntop() of a struct's u8[16] member (issue 11, part 5)"},
	"tcpconnect.bt":     {"error: ntop() needs an IPv4 address", "ntop() of a struct's u8[16] member (issue 11, part 5)"},
	"tcpdrop.bt":        {"error: ntop() needs an IPv4 address", "ntop() of a struct's u8[16] member (issue 11, part 5)"},
	"tcpretrans.bt":     {"error: ntop() needs an IPv4 address", "ntop() of a struct's u8[16] member (issue 11, part 5)"},
	"tcplife.bt":        {"error: unknown function bswap()", "bswap() (issue 11, part 5)"},
	"vfsstat.bt":        {"error: key 1 of @ is string[10] here but ksym elsewhere", "func map keys from a wildcard and a plain probe (issue 11, part 5)"},
}

// missingHere reports whether stderr blames what this system lacks: a
// kernel feature, or every function, binary or event the tool probes (as
// threadsnoop's pthread_create, in libc rather than libpthread since glibc
// 2.34).
// These are the acceptable failures of a tool that compiles.
func missingHere(stderr string) bool {
	return strings.Contains(stderr, "this kernel has no") || strings.Contains(stderr, "the kernel refuses") ||
		strings.Contains(stderr, "this kernel cannot") ||
		strings.Contains(stderr, "hint: no probe of the script exists on this system")
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
			r := ebtrace(t, "--dry-run", tool)
			gap, known := knownGaps[name]
			switch {
			case r.code == 0:
				if known {
					t.Logf("%s now passes --dry-run (%s): remove it from knownGaps", name, gap.why)
				}
			case known && strings.Contains(r.stderr, gap.err):
			case missingHere(r.stderr):
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
