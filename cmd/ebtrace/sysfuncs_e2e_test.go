package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// signal() sends the traced process a signal per event; the workload
// counts the ones it catches.
func TestSignal(t *testing.T) {
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { signal("SIGUSR1"); @sent = count(); }`
	r := runCLI(t, "--unsafe", "-e", script, "-c", wl+" signals 5")
	r.want(t, 0, "caught 5 SIGUSR1\n\n\n@sent: 5\n")

	r = runCLI(t, "-e", script, "-c", wl+" signals 5")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "error: signal() changes the system, which is allowed only in unsafe mode") ||
		!strings.Contains(r.stderr, "hint: run ebtrace with --unsafe") {
		t.Errorf("without --unsafe, stderr:\n%s", r.stderr)
	}
}

// A failed openat's errno and syscall number print as bpftrace prints
// them; the user is the one running the workload.
func TestFailedSyscallNames(t *testing.T) {
	wl := testutil.Workload(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `tracepoint:syscalls:sys_exit_openat /pid == cpid && args.ret < 0/ {
	@[syscall_name(args.__syscall_nr), strerror(-args.ret), username] = count();
	printf("%s: %s\n", syscall_name(args.__syscall_nr), strerror(-args.ret));
}`
	cmd := wl + " open " + filepath.Join(dir, "missing") + " " + filepath.Join(file, "below") + " " + filepath.Join(dir, "gone")
	r := runCLI(t, "-e", script, "-c", cmd)
	r.want(t, 0, `openat: No such file or directory
openat: Not a directory
openat: No such file or directory


@[openat, Not a directory, root]: 1
@[openat, No such file or directory, root]: 2
`)
	r = runCLI(t, "-f", "json", "-e", script, "-c", cmd)
	r.want(t, 0, `{"type": "attached_probes", "data": {"probes": 1}}
{"type": "printf", "data": "openat: No such file or directory\n"}
{"type": "printf", "data": "openat: Not a directory\n"}
{"type": "printf", "data": "openat: No such file or directory\n"}
{"type": "map", "data": {"@": {"openat,Not a directory,root": 1, "openat,No such file or directory,root": 2}}}
`)
}

// -k reports each map update the kernel refused, where the script makes
// it, as bpftrace does.
func TestHelperErrorWarnings(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[nsecs] = 1; }`
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-k", "-e", script, "-c", wl+" getppid 3")
	cmd.Env = append(os.Environ(), "BPFTRACE_MAP_KEYS_MAX=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	warning := `stdin:1:55-67: WARNING: Failed to map_update_elem: Argument list too long (-7)
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[nsecs] = 1; }
                                                      ~~~~~~~~~~~~
`
	want := "Attached 1 probe\n" + warning + warning +
		"WARNING: map @ was full (1 entries): 2 updates were dropped; raise the limit with BPFTRACE_MAP_KEYS_MAX\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
}

// system() and cat() print from user space, in order with printf.
func TestSystemAndCat(t *testing.T) {
	file := filepath.Join(t.TempDir(), "note")
	if err := os.WriteFile(file, []byte("from a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `BEGIN { printf("one\n"); system("echo two %d", 2); cat("` + file + `"); printf("three\n"); exit(); }`
	r := runCLI(t, "--unsafe", "-e", script)
	r.want(t, 0, "one\ntwo 2\nfrom a file\nthree\n\n\n")
	r = runCLI(t, "--unsafe", "-f", "json", "-e", script)
	r.want(t, 0, `{"type": "attached_probes", "data": {"probes": 1}}
{"type": "printf", "data": "one\n"}
{"type": "syscall", "data": "two 2\n"}
{"type": "cat", "data": "from a file\n"}
{"type": "printf", "data": "three\n"}
`)
}

// path() resolves a struct path argument with bpf_d_path, which the
// kernel allows in fentry programs on a few functions, among them
// security_inode_getattr, behind stat(2). (vfs_getattr is on the list too,
// but compilers inline it into stat's own path.)
func TestFentryPath(t *testing.T) {
	requireTrampolines(t)
	wl := testutil.Workload(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "stat-me")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "-k", "-e", "fentry:security_inode_getattr "+filter(wl)+" { @[path(args.path)] = count(); @sized[path(args.path, 200)] = count(); }", "-c", wl+" stat "+file+" "+dir+" "+file)
	var got []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, dir) {
			got = append(got, line)
		}
	}
	want := []string{"@[" + dir + "]: 1", "@[" + file + "]: 2", "@sized[" + dir + "]: 1", "@sized[" + file + "]: 2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || r.code != 0 {
		t.Errorf("exit %d, lines naming the test directory:\n%s\nwant:\n%s\nstdout:\n%s\nstderr: %s", r.code, strings.Join(got, "\n"), strings.Join(want, "\n"), r.stdout, r.stderr)
	}
}

// cgroupid() finds the id bpf_get_current_cgroup_id gives the workload,
// which runs in the test's cgroup; the other cgroup filters it out.
func TestCgroupFilter(t *testing.T) {
	wl := testutil.Workload(t)
	dir := testutil.CgroupDir(t)
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid && cgroup == cgroupid("` + dir + `")/ { @same = count(); }
tracepoint:syscalls:sys_enter_getppid /pid == cpid && cgroup != cgroupid("` + dir + `")/ { @other = count(); }`
	r := runCLI(t, "-e", script, "-c", wl+" getppid 7")
	r.want(t, 0, "\n\n@other: 0\n@same: 7\n") // an unkeyed count() that never ran prints 0, as in bpftrace
}

// override() makes a kprobed syscall return what the script says. It
// needs kprobes and a kernel built with CONFIG_BPF_KPROBE_OVERRIDE, which
// Debian's 6.1 kernels, cloud and generic, lack: it skips in vm/run.sh's
// VMs too.
func TestOverride(t *testing.T) {
	requireKprobes(t)
	switch err := features.HaveProgramHelper(ebpf.Kprobe, asm.FnOverrideReturn); {
	case errors.Is(err, ebpf.ErrNotSupported):
		t.Skipf("this kernel has no bpf_override_return (CONFIG_BPF_KPROBE_OVERRIDE): %v", err)
	case err != nil:
		t.Fatal(err)
	}
	wl := testutil.Workload(t)
	fn := getppidFunc(t)
	r := runCLI(t, "--unsafe", "-e", "kprobe:"+fn+" "+filter(wl)+" { override(-5); @n = count(); }", "-c", wl+" ppid")
	r.want(t, 0, "ppid: -5\n\n\n@n: 1\n")
}

// macaddr() reads six bytes through a user pointer: here the start of a
// file name the workload opens.
func TestMacaddr(t *testing.T) {
	wl := testutil.Workload(t)
	file := filepath.Join(t.TempDir(), "x")
	script := `tracepoint:syscalls:sys_enter_openat /pid == cpid && str(args.filename) == "` + file + `"/ { printf("%s\n", macaddr(args.filename)); }`
	r := runCLI(t, "-e", script, "-c", wl+" open "+file)
	var want strings.Builder
	for i := range 6 {
		if i > 0 {
			want.WriteString(":")
		}
		fmt.Fprintf(&want, "%02X", file[i])
	}
	r.want(t, 0, want.String()+"\n\n\n")
}

// TestNtopArrays reads addresses from a tracepoint's __u8 arrays: an IPv4
// address of 4 bytes, and the IPv4-mapped IPv6 address of 16 that the
// kernel fills in for an IPv4 socket, printed as inet_ntop prints it.
func TestNtopArrays(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-q", "-e", `tracepoint:sock:inet_sock_set_state /pid == cpid && args.protocol == 6/ {
		@[ntop(args.saddr), ntop(args.saddr_v6), ntop(2, args.saddr)] = count();
	}`, "-c", wl+" tcp")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "\n@[127.0.0.1, ::ffff:127.0.0.1, 127.0.0.1]: ") {
		t.Errorf("no loopback addresses in:\n%s", r.stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.HasPrefix(line, "@[127.0.0.1, ::ffff:127.0.0.1, 127.0.0.1]: ") {
			t.Errorf("line %q: another address", line)
		}
	}
}
