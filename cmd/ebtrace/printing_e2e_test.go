package main

import (
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// End-to-end tests of how values and maps print where bpftrace's shipped
// tools showed differences (issue 11): empty count() maps, signed
// typedefs, and kernel structs listed with -lv.

// TestEmptyCountPrintsZero: an unkeyed count() that never ran or was
// cleared prints "@x: 0", mid-run and at exit, in text and JSON, as
// bpftrace 0.17 prints it; an empty map of another kind or a keyed count()
// prints only its blank line(s).
func TestEmptyCountPrintsZero(t *testing.T) {
	script := `tracepoint:syscalls:sys_enter_reboot { @never = count(); @sum = sum(1); @keyed[1] = count(); }
BEGIN { @cleared = count(); clear(@cleared); print(@cleared); @avg = avg(1); clear(@avg); exit(); }`
	r := runCLI(t, "-e", script)
	r.want(t, 0, "@cleared: 0\n\n\n\n\n@cleared: 0\n\n@never: 0\n\n")
	r = runCLI(t, "-f", "json", "-e", script)
	r.want(t, 0, `{"type": "attached_probes", "data": {"probes": 2}}
{"type": "map", "data": {"@cleared": 0}}
{"type": "map", "data": {"@cleared": 0}}
{"type": "map", "data": {"@never": 0}}
`)
}

// TestSignedSyscallArgs: syscall events store every argument in an
// unsigned 8-byte slot; kill's `pid_t pid` and `int sig` print as the
// negative values the workload passed (the kernel's BTF says pid_t is
// int), compare below zero, and key maps signed.
func TestSignedSyscallArgs(t *testing.T) {
	requireKernelBTF(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_kill /pid == cpid/ {
	printf("%d %d %d\n", args.pid, args.sig, args.pid < 0);
	print(args.pid);
	@pid[args.pid] = min(args.sig);
}`, "-c", wl+" kill -999999 -3")
	r.want(t, 0, "-999999 -3 1\n-999999\n\n\n@pid[-999999]: -3\n")
}

// TestSignedTypedefMembers reads members of typedef'd integer types from
// a C program's struct, and casts to typedefs: signed ones print signed,
// unsigned ones unsigned, whatever their width.
func TestSignedTypedefMembers(t *testing.T) {
	requireKernelBTF(t)
	bin := testutil.BuildC(t, "testdata/typedefs.c")
	r := runCLI(t, "-e", `#include "testdata/typedefs.h"
uprobe:`+bin+`:visit {
	$o = (struct owner *)arg0;
	printf("%d %ld %d %u\n", $o->pid, $o->len, $o->small, $o->uid);
	print($o->pid);
	@small[$o->pid] = $o->small;
	$v = -5;
	print((pid_t)$v); print((pid_t)4294967291); print((uid_t)$v);
}`, "-c", bin)
	r.want(t, 0, "-999999 -123456789012 -300 4294967294\n-999999\n-5\n-5\n4294967291\n\n\n@small[-999999]: -300\n")
}

// TestListStructs: -lv 'struct NAME' prints the kernel's definition from
// BTF as bpftrace -lv does (libbpf's C layout), and -l lists the names a
// pattern matches.
func TestListStructs(t *testing.T) {
	requireKernelBTF(t)
	r := runCLI(t, "-lv", "struct timespec64")
	r.want(t, 0, "struct timespec64 {\n\ttime64_t tv_sec;\n\tlong int tv_nsec;\n};\n\n")
	r = runCLI(t, "-l", "struct task_struct")
	r.want(t, 0, "struct task_struct\n")
	r = runCLI(t, "-l", "struct task_*")
	if !strings.Contains(r.stdout, "\nstruct task_struct\n") || r.code != 0 {
		t.Errorf("-l 'struct task_*': exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "-lv", "struct task_struct")
	for _, want := range []string{"struct task_struct {\n", "\tpid_t pid;\n", "\tstruct task_struct *real_parent;\n", "\tchar comm[16];\n"} {
		if !strings.Contains(r.stdout, want) || r.code != 0 {
			t.Errorf("-lv 'struct task_struct' lacks %q: exit %d\n%s%s", want, r.code, r.stdout, r.stderr)
		}
	}
	if !strings.HasSuffix(r.stdout, "\n};\n\n") {
		t.Errorf("-lv 'struct task_struct' does not end the definition:\n%s", r.stdout)
	}
	r = runCLI(t, "-lv", "struct no_such_struct")
	r.want(t, 0, "")
}
