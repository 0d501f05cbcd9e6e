package main

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"ebtrace/internal/testutil"
	"ebtrace/kernel"
	"ebtrace/probe/fentry"
	"ebtrace/probe/kprobe"
)

// End-to-end tests of kprobe, kretprobe, fentry and fexit. Those that
// attach skip, with the reason ebtrace itself would give, on kernels
// without the feature; the rest run everywhere.

func requireKprobes(t *testing.T) {
	t.Helper()
	if err := kprobe.Available(); err != nil {
		t.Skip(err)
	}
}

func requireTrampolines(t *testing.T) {
	t.Helper()
	if err := fentry.Available(); err != nil {
		t.Skip(err)
	}
}

// getppidFunc is the kernel function behind getppid(2) on this machine.
func getppidFunc(t *testing.T) string {
	t.Helper()
	syms, err := kernel.Kallsyms()
	if err != nil {
		t.Skip(err)
	}
	for _, name := range []string{"__x64_sys_getppid", "__arm64_sys_getppid", "__se_sys_getppid", "sys_getppid"} {
		if slices.ContainsFunc(syms, func(s kernel.KernelSymbol) bool { return s.Name == name && s.IsText() }) {
			return name
		}
	}
	t.Skip("no getppid system call function in /proc/kallsyms")
	return ""
}

// filter selects the workload's own events: the -c child's pid, once it
// has become the workload.
func filter(wl string) string { return `/pid == cpid && comm == "` + commOf(wl) + `"/` }

func TestKprobeCount(t *testing.T) {
	requireKprobes(t)
	wl := testutil.Workload(t)
	fn := getppidFunc(t)
	r := ebtrace(t, "-e", "kprobe:"+fn+" "+filter(wl)+" { @calls = count(); @f[func] = count(); }", "-c", wl+" getppid 1000")
	r.want(t, 0, "\n\n@calls: 1000\n@f["+fn+"]: 1000\n")
}

// vfs_write(file, buf, count, pos) sees each write(2) of the workload;
// to /dev/null it returns count.
func TestKprobeArgsRetval(t *testing.T) {
	requireKprobes(t)
	wl := testutil.Workload(t)
	r := ebtrace(t, "-e", "kprobe:vfs_write "+filter(wl)+" { @count[arg2] = count(); } kretprobe:vfs_write "+filter(wl)+" { @ret[retval] = count(); }",
		"-c", wl+" write 1 3")
	r.want(t, 0, "\n\n@count[1]: 1\n@count[2]: 1\n@count[3]: 1\n@ret[1]: 1\n@ret[2]: 1\n@ret[3]: 1\n")
}

func TestKprobeWildcard(t *testing.T) {
	requireKprobes(t)
	wl := testutil.Workload(t)
	r := ebtrace(t, "-e", "kprobe:vfs_writ* "+filter(wl)+" { @[probe] = count(); }", "-c", wl+" write 1 5")
	r.want(t, 0, "\n\n@[kprobe:vfs_write]: 5\n")
}

func TestFentryArgs(t *testing.T) {
	requireTrampolines(t)
	wl := testutil.Workload(t)
	r := ebtrace(t, "-e", "fentry:vfs_write "+filter(wl)+" { @count[args.count] = count(); @f[func] = count(); } fexit:vfs_write "+filter(wl)+" { @ret[retval, args.count] = count(); }",
		"-c", wl+" write 1 3")
	r.want(t, 0, "\n\n@count[1]: 1\n@count[2]: 1\n@count[3]: 1\n@f[vfs_write]: 3\n@ret[1, 1]: 1\n@ret[2, 2]: 1\n@ret[3, 3]: 1\n")
}

func TestFentryCount(t *testing.T) {
	requireTrampolines(t)
	wl := testutil.Workload(t)
	r := ebtrace(t, "-e", "kfunc:vfs_write "+filter(wl)+" { @[probe] = count(); }", "-c", wl+" write 1 10")
	r.want(t, 0, "\n\n@[fentry:vfs_write]: 10\n")
}

// Where the kernel cannot run a probe, tracing stops before anything is
// loaded with one sentence saying why, and --dry-run says it too.
func TestKprobeUnavailable(t *testing.T) {
	for _, c := range []struct {
		probe     string
		available error
	}{
		{"kprobe:vfs_read", kprobe.Available()},
		{"fexit:vfs_read", fentry.Available()},
	} {
		script := c.probe + " { @ = count(); }"
		dry := ebtrace(t, "--dry-run", "-e", script)
		if c.available == nil {
			dry.want(t, 0, "")
			if dry.stderr != "Dry run: 1 program passed the verifier; nothing was attached\n" {
				t.Errorf("stderr %q", dry.stderr)
			}
			continue
		}
		if !errors.Is(c.available, ebpf.ErrNotSupported) {
			t.Errorf("%s: %v does not wrap ebpf.ErrNotSupported", c.probe, c.available)
		}
		dry.want(t, 0, "")
		prefix := "ebtrace: compiled, not loaded: " + c.probe + ": " + c.available.Error() + "; "
		if !strings.HasPrefix(dry.stderr, prefix) || !strings.HasSuffix(dry.stderr, " instead\nDry run: 0 programs passed the verifier; nothing was attached\n") {
			t.Errorf("%s --dry-run stderr:\n%s", c.probe, dry.stderr)
		}
		r := ebtrace(t, "-e", script)
		r.want(t, 1, "")
		if msg := "ebtrace: " + c.probe + ": " + c.available.Error() + "; "; !strings.HasPrefix(r.stderr, msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s stderr:\n%s", c.probe, r.stderr)
		}
	}
}

func TestKprobeDiagnostics(t *testing.T) {
	r := ebtrace(t, "-e", "kprobe:vfs_raed { @ = count(); }")
	r.want(t, 1, "")
	if !strings.HasPrefix(r.stderr, "stdin:1:1: error: kprobe:vfs_raed: no kernel function vfs_raed\n") || !strings.Contains(r.stderr, "hint: did you mean vfs_read") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = ebtrace(t, "-e", "kretprobe:vfs_read { @ = arg0; }")
	r.want(t, 1, "")
	if !strings.HasPrefix(r.stderr, "stdin:1:26: error: arg0 is not defined in kretprobe probes\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return
	}
	r = ebtrace(t, "-e", "fentry:vfs_read { @ = args.cont; }")
	r.want(t, 1, "")
	want := `stdin:1:28: error: fentry:vfs_read has no argument "cont"
    fentry:vfs_read { @ = args.cont; }
                               ^~~~
hint: did you mean count?
hint: arguments: file, buf, count, pos
`
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}

func TestKprobeList(t *testing.T) {
	r := ebtrace(t, "-l", "kprobe:vfs_read")
	r.want(t, 0, "kprobe:vfs_read\n")
	r = ebtrace(t, "-l", "kr:vfs_read")
	r.want(t, 0, "kretprobe:vfs_read\n")
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return
	}
	r = ebtrace(t, "-lv", "kfunc:vfs_read")
	r.want(t, 0, `fentry:vfs_read
    struct file * file
    char * buf
    size_t count
    loff_t * pos
`)
	r = ebtrace(t, "-lv", "fexit:vfs_read")
	r.want(t, 0, `fexit:vfs_read
    struct file * file
    char * buf
    size_t count
    loff_t * pos
    ssize_t retval
`)
}
