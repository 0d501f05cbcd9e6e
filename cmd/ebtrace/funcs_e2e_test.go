package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// print(@map, TOP, DIV) prints the TOP greatest entries, their values
// divided by DIV, in bpftrace's ascending order.
func TestPrintTopDiv(t *testing.T) {
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
	@[1] = sum(5000); @[2] = sum(12000); @[3] = sum(700); @[4] = sum(-3999);
}
END { print(@, 2, 1000); print(@, 0, 100); clear(@); }`
	r := runCLI(t, "-e", script, "-c", wl+" getppid 1")
	r.want(t, 0, "@[1]: 5\n@[2]: 12\n@[4]: -39\n@[3]: 7\n@[1]: 50\n@[2]: 120\n\n\n\n")
}

// str() of an address kept in a map (as opensnoop keeps a filename
// between entry and exit) reads the string: kernel memory refuses a user
// address, so user memory is read; uptr() says so at once.
func TestStrOfAddress(t *testing.T) {
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @name[tid] = args.filename; }
tracepoint:syscalls:sys_exit_openat /pid == cpid && @name[tid]/ {
	if (strcontains(str(@name[tid]), "ebtrace-missing")) {
		printf("%s|%s\n", str(@name[tid]), str(uptr(@name[tid])));
	}
	delete(@name[tid]);
}`
	r := runCLI(t, "-e", script, "-c", wl+" open /ebtrace-missing/a /ebtrace-missing/bb")
	r.want(t, 0, "/ebtrace-missing/a|/ebtrace-missing/a\n/ebtrace-missing/bb|/ebtrace-missing/bb\n\n\n\n")
}

// * through a 64-bit integer reads an int64 in kernel memory, as loads.bt
// reads avenrun at kaddr("avenrun"); kptr() marks an address as the
// kernel's for str().
func TestDerefAddress(t *testing.T) {
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
	$tgid = (uint64)&curtask->tgid;
	printf("%d %d\n", (*$tgid & 0xffffffff) == pid, str(kptr((uint64)&curtask->comm)) == comm);
}`
	r := runCLI(t, "-e", script, "-c", wl+" getppid 1")
	r.want(t, 0, "1 1\n\n\n")
}

// bswap() reverses the bytes of an integer at its own width.
func TestBswap(t *testing.T) {
	r := runCLI(t, "-e", `BEGIN {
	printf("%x %x %lx %x\n", bswap((uint16)0x1234), bswap((uint32)0x12345678), bswap(0x0102030405060708), bswap((uint8)0x12));
	exit();
}`)
	r.want(t, 0, "3412 78563412 807060504030201 12\n\n\n")
}

// ntop() of a struct's address members, as bpftrace's tcp tools read
// them: the u8[16] of an IPv6 address and the __be32 of an IPv4 one,
// matching the tracepoint's own fields; bswap() turns the struct's
// network-order port into the tracepoint's.
func TestNtopOfMembers(t *testing.T) {
	wl := testutil.Workload(t)
	script := `#include <sys/socket.h>
tracepoint:sock:inet_sock_set_state /args.newstate == TCP_ESTABLISHED && args.protocol == IPPROTO_TCP/ {
	$sk = (struct sock *)args.skaddr;
	if (args.family == AF_INET6) {
		@v6[ntop($sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8), ntop(AF_INET6, $sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8), ntop(args.daddr_v6)] = count();
	} else {
		@v4[ntop($sk->__sk_common.skc_daddr), ntop(AF_INET, $sk->__sk_common.skc_rcv_saddr), ntop(args.daddr)] = count();
	}
	@port[bswap($sk->__sk_common.skc_dport) == args.dport] = count();
}`
	r := runCLI(t, "-e", script, "-c", "sh -c '"+wl+" tcp 6 && "+wl+" tcp'")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"@v6[::1, ::1, ::1]: 2\n", "@v4[127.0.0.1, 127.0.0.1, 127.0.0.1]: 2\n", "@port[true]: 4\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in the output:\n%s", want, r.stdout)
		}
	}
}

// The library functions whose values are known when the script compiles,
// and the string searches, give what bpftrace's standard library
// documents; ncpus and kfunc_exist() agree with what Go asks the kernel.
func TestLibraryFunctions(t *testing.T) {
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	var fn *btf.Func
	exists := 0
	if spec.TypeByName("vfs_read", &fn) == nil {
		exists = 1
	}
	r := runCLI(t, "-e", `BEGIN {
	printf("%d %d %d %d %d %d %d\n", is_integer(1), is_unsigned_integer(pid), is_ptr(curtask), is_str(comm), is_array(comm), is_literal("a"), strcap(comm));
	printf("%d %d %d %d %d\n", strstr("hello world", "wor"), strstr("hello", "xyz"), strstr("abc", ""), memcmp("abc", "abd", 3), memcmp("abc", "abc", 3));
	printf("%d %d %d\n", ncpus, kfunc_exist("vfs_read"), kfunc_exist("ebtrace_no_such_function"));
	printf("%d %d %d %d\n", rand < 4294967296, rand() == rand() || 1, jiffies > 0, numaid < 1024);
	exit();
}`)
	r.want(t, 0, fmt.Sprintf("1 1 1 1 0 1 16\n6 -1 0 -1 0\n%d %d 0\n1 1 1 1\n\n\n", cpus, exists))
}

// cgroup_path() prints the cgroup of a task as /proc/PID/cgroup shows it.
func TestCgroupPath(t *testing.T) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			want = p
		}
	}
	if want == "" {
		t.Skip("this process is in no cgroup v2 hierarchy")
	}
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%s\n", cgroup_path(cgroup)); }`, "-c", wl+" getppid 1")
	r.want(t, 0, want+"\n\n\n")
}

// signal_thread() sends the signal to the thread that hit the probe.
func TestSignalThread(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "--unsafe", "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { signal_thread("SIGUSR1"); }`, "-c", wl+" signals 3")
	r.want(t, 0, "caught 3 SIGUSR1\n\n\n")
}

// reg() reads the probed code's registers: Go passes main.target's
// argument in rax.
func TestReg(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", "uprobe:"+wl+":main.target { @[reg(\"ax\")] = count(); @ip[reg(\"ip\") == reg(\"rip\")] = count(); }", "-c", wl+" call 3")
	r.want(t, 0, "\n\n@[0]: 1\n@[1]: 1\n@[2]: 1\n@ip[true]: 3\n")
}

// delete() of a map without keys removes its value, as clear() does.
func TestDeleteScalar(t *testing.T) {
	r := runCLI(t, "-e", `BEGIN { @x = 5; @c = count(); @kept = 7; delete(@x); delete(@c); exit(); }`)
	r.want(t, 0, "\n\n@c: 0\n@kept: 7\n\n")
}

// pcomm, ppid, has_cpid and probetype stand for expressions of the
// language, bare or called; pcomm(task) and ppid(task) of another task.
func TestRewrittenFunctions(t *testing.T) {
	wl := testutil.Workload(t)
	script := `BEGIN { printf("%s %d\n", probetype, has_cpid); }
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
	printf("%d %d %d %d %s %s\n", pcomm == comm, pcomm() == comm, ppid == curtask->real_parent->tgid, has_cpid(), probetype, probetype());
	printf("%d %d %d\n", pcomm(curtask) == comm, ppid(curtask) == ppid, ppid(curtask.real_parent) == curtask.real_parent.real_parent.tgid);
}`
	r := runCLI(t, "-e", script, "-c", wl+" getppid 1")
	r.want(t, 0, "special 1\n1 1 1 1 tracepoint tracepoint\n1 1 1\n\n\n")
	r = runCLI(t, "-e", `BEGIN { printf("%d\n", has_cpid); exit(); }`)
	r.want(t, 0, "0\n\n\n")
}

// exit(CODE) ends tracing, and ebtrace exits with CODE.
func TestExitCode(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @n = count(); @k++; exit(@k + 2); }`, "-c", wl+" getppid 1")
	r.want(t, 3, "\n\n@k: 1\n@n: 1\n")
}

// Nothing the probes print after exit() reaches the output, however fast
// events come, as in bpftrace; END still runs.
func TestExitStopsOutput(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d\n", @n); if (@n++ > 1) { exit(); } }
END { printf("end\n"); clear(@n); }`, "-c", wl+" getppid 100000")
	r.want(t, 0, "0\n1\n2\nend\n\n\n\n")
}

// A builtin may be called, as bpftrace's standard library allows: pid()
// is pid.
func TestBuiltinCalls(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid() == cpid()/ {
	printf("%d %d %d %s %s\n", pid() == pid, tid() == tid, comm() == comm, username(), probe());
}`, "-c", wl+" getppid 1")
	r.want(t, 0, "1 1 1 root tracepoint:syscalls:sys_enter_getppid\n\n\n")
}

// delete(@m, KEY), the current dialect's form (bpftrace's one-liner
// tutorial), and delete(@m, (K1, K2)) for a key of several parts.
func TestDeleteMapKey(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @start[tid] = nsecs; @pair[tid, "x"] = 1; }
tracepoint:syscalls:sys_exit_getppid /@start[tid]/ { @n = count(); delete(@start, tid); delete(@pair, (tid, "x")); }`, "-c", wl+" getppid 3")
	r.want(t, 0, "\n\n@n: 3\n\n\n")
}

// nsecs(CLOCK) reads the kernel clock named: boot time counts suspend, so
// it is never behind monotonic time; TAI is ahead of both.
func TestNsecsClocks(t *testing.T) {
	testutil.RequireHelper(t, ebpf.RawTracepoint, asm.FnKtimeGetTaiNs)
	r := runCLI(t, "-e", `BEGIN { $m = nsecs(monotonic); $b = nsecs(boot); $t = nsecs(tai); printf("%d %d %d\n", $b >= $m, $t > $b, nsecs() >= $m); exit(); }`)
	r.want(t, 0, "1 1 1\n\n\n")
}

// A pointer steps by its pointee's size, as in C, in ++ and -- of a
// variable or a map as in + and -; a pointer value prints in hex, as in
// bpftrace (issue 12, part 3); JSON keeps it a number.
func TestPointerValues(t *testing.T) {
	script := `BEGIN { @ = (int64 *)0x32; @++; @k[1] = (uint8 *)5; @k[1]--; $p = (int32 *)0x10; $p++; print($p); printf("%d\n", $p + 1); @n = 7; exit(); }`
	r := runCLI(t, "-e", script)
	r.want(t, 0, "0x14\n24\n\n\n@: 0x3a\n@k[1]: 0x4\n@n: 7\n")
	r = runCLI(t, "-q", "-f", "json", "-e", `BEGIN { @ = (int64 *)0x32; @++; exit(); }`)
	r.want(t, 0, `{"type": "map", "data": {"@": 58}}`+"\n")
}

// getopt() reads the named options given after the script: an integer, a
// string or a flag as its default says, the default when not given
// (issue 12, part 5).
func TestGetopt(t *testing.T) {
	script := `BEGIN { printf("%d %s %d %d %d\n", getopt("count", 10), getopt("name", "none", "who to greet"), getopt("verbose"), getopt("dry", true), getopt("neg", -3)); exit(); }`
	r := runCLI(t, "-e", script, "--", "--count=5", "--name=ebtrace", "--verbose", "--dry=false")
	r.want(t, 0, "5 ebtrace 1 0 -3\n\n\n")
	r = runCLI(t, "-e", script)
	r.want(t, 0, "10 none 0 1 -3\n\n\n")
	r = runCLI(t, "-e", script, "--", "--count=many")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, `error: getopt("count"): --count=many is not an integer`) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// Positional parameters in attach points (issue 12, part 5).
func TestAttachParams(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_$1 /pid == cpid/ { @[probe] = count(); }`, "-c", wl+" getppid 2", "getppid")
	r.want(t, 0, "\n\n@[tracepoint:syscalls:sys_enter_getppid]: 2\n")
	r = runCLI(t, "-e", `uprobe:$1:main.target { @ = count(); }`, "-c", wl+" call 3", wl)
	r.want(t, 0, "\n\n@: 3\n")
}

// globmatch() in BPF agrees with package glob, the matcher of attach
// points, on every pair below.
func TestGlobmatch(t *testing.T) {
	cases := []struct{ s, p string }{
		{"hello", "h*o"}, {"hello", "h*x"}, {"hello", "?ello"}, {"hello", "[a-h]el*"}, {"hello", "[!h]*"},
		{"", "*"}, {"", ""}, {"", "?"}, {"abc", "abc"}, {"abc", "ab"}, {"abcd", "abc"}, {"a*c", `a\*c`}, {"abc", `a\*c`},
		{"axxbyyc", "a*b*c"}, {"axxbyy", "a*b*c"}, {"abcbc", "*bc"}, {"abcbd", "*bc*"}, {"aaa", "a*a*a"}, {"aa", "a*a*a"},
		{"x]y", "x[]]y"}, {"xay", "x[!]]y"}, {"x]y", "x[!]]y"}, {"x-y", "x[a-]y"}, {"bash", "[b-d]??h"}, {"zsh", "*sh"},
		{"ebtrace-workload", "ebtrace-*"}, {"sshd", "s?h*"}, {"a", "**"}, {"ab", "*?*?*"}, {"a", "*?*?*"},
	}
	var b strings.Builder
	b.WriteString("BEGIN {\n")
	var want strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&b, "\tprintf(\"%%d\\n\", globmatch(%q, %q));\n", c.s, c.p)
		if glob.Match(c.p, c.s) {
			want.WriteString("1\n")
		} else {
			want.WriteString("0\n")
		}
	}
	b.WriteString("\texit();\n}\n")
	r := runCLI(t, "-e", b.String())
	r.want(t, 0, want.String()+"\n\n")

	wl := testutil.Workload(t)
	r = runCLI(t, "-e", `tracepoint:syscalls:sys_enter_getppid /pid == cpid && globmatch(comm, "work*")/ { @ = count(); }`, "-c", wl+" getppid 3")
	r.want(t, 0, "\n\n@: 3\n")
}

// -- --help lists the options a script reads with getopt(), and an option
// it does not read is an error naming those it does.
func TestGetoptHelp(t *testing.T) {
	script := `BEGIN { print((getopt("aa", 10, "how many"), getopt("bb", "hello"), getopt("cc"), getopt("dd", false, "dry run"))); exit(); }`
	r := runCLI(t, "-e", script, "--", "--help")
	r.want(t, 0, `OPTIONS (after --):
    --aa=NUMBER  how many; default 10
    --bb=TEXT    default "hello"
    --cc         a flag: --cc, --cc=true or --cc=false
    --dd         dry run; a flag: --dd, --dd=true or --dd=false; default false
`)
	r = runCLI(t, "-e", script, "--", "--ab=2")
	r.want(t, 1, "")
	if want := "ebtrace: the script has no option --ab; it reads --aa, --bb, --cc, --dd (did you mean --aa?); -- --help lists them\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	r = runCLI(t, "-q", "-e", script, "--", "--aa=3", "--cc")
	r.want(t, 0, "(3, hello, true, false)\n\n\n")
}

// usermode says whether a profile sample caught the workload's spin in
// user space (most samples) or in the kernel (a timer, a page fault).
func TestUsermode(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-q", "-e", `profile:hz:999 /pid == cpid/ { @[usermode] = count(); }`, "-c", wl+" spin 300")
	var user, kernel int
	for _, line := range strings.Split(r.stdout, "\n") {
		fmt.Sscanf(line, "@[1]: %d", &user)
		fmt.Sscanf(line, "@[0]: %d", &kernel)
	}
	if r.code != 0 || user == 0 || user < 2*kernel {
		t.Errorf("samples in user mode %d, in the kernel %d, want most in user mode:\n%s%s", user, kernel, r.stdout, r.stderr)
	}
}

// kfunc_allowed() agrees with the verifier: in each kind of probe it says
// whether comm(PID), which calls bpf_task_from_pid, loads there.
func TestKfuncAllowed(t *testing.T) {
	for _, probe := range []string{"BEGIN", "tracepoint:syscalls:sys_enter_getppid"} {
		r := runCLI(t, "-q", "-e", probe+` { print(kfunc_allowed("bpf_task_from_pid")); exit(); }`, "-c", testutil.Workload(t)+" getppid 1")
		answer := strings.TrimSpace(r.stdout)
		loads := runCLI(t, "--dry-run", "-e", probe+` { print(comm(2)); }`)
		switch {
		case answer != "true" && answer != "false":
			t.Errorf("%s: kfunc_allowed printed %q (stderr %q)", probe, r.stdout, r.stderr)
		case (answer == "true") != (loads.code == 0):
			t.Errorf("%s: kfunc_allowed says %s, but comm(2) there gives exit status %d: %s", probe, answer, loads.code, loads.stderr)
		}
	}
}

// A question answered when the script compiles is answered for each attach
// point of a probe: args.filename is a pointer in one event, a string in
// the other.
func TestConstsPerAttachPoint(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-q", "-e", `tracepoint:syscalls:sys_enter_openat, tracepoint:sched:sched_process_exec /pid == cpid/ { @[probe] = is_ptr(args.filename); }`, "-c", wl+" open /etc/hostname")
	r.want(t, 0, "\n\n@[tracepoint:sched:sched_process_exec]: false\n@[tracepoint:syscalls:sys_enter_openat]: true\n")
}

// A negative exit code is the status the OS keeps: exit(-1) is 255.
func TestNegativeExitCode(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN { exit(-1); }`)
	r.want(t, 255, "\n\n")
}
