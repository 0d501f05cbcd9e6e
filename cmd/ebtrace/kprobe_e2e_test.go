package main

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe/fentry"
	"github.com/ebtrace/ebtrace/internal/probe/kprobe"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// End-to-end tests of kprobe, kretprobe, fentry and fexit. Those that
// attach skip, with the reason ebtrace itself would give, on kernels
// without the feature; the rest run everywhere.

func requireKprobes(t *testing.T) {
	t.Helper()
	testutil.SkipUnsupported(t, kprobe.Available())
}

func requireTrampolines(t *testing.T) {
	t.Helper()
	testutil.SkipUnsupported(t, fentry.Available())
}

// getppidFunc is the kernel function behind getppid(2) on this machine.
func getppidFunc(t *testing.T) string {
	t.Helper()
	syms, err := kernel.Kallsyms()
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no /proc/kallsyms (CONFIG_KALLSYMS is off): %v", err)
	}
	if err != nil {
		t.Fatal(err)
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
	r := runCLI(t, "-e", "kprobe:"+fn+" "+filter(wl)+" { @calls = count(); @f[func] = count(); }", "-c", wl+" getppid 1000")
	r.want(t, 0, "\n\n@calls: 1000\n@f["+fn+"]: 1000\n")
}

// vfs_write(file, buf, count, pos) sees each write(2) of the workload;
// to /dev/null it returns count.
func TestKprobeArgsRetval(t *testing.T) {
	requireKprobes(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", "kprobe:vfs_write "+filter(wl)+" { @count[arg2] = count(); } kretprobe:vfs_write "+filter(wl)+" { @ret[retval] = count(); }",
		"-c", wl+" write 1 3")
	r.want(t, 0, "\n\n@count[1]: 1\n@count[2]: 1\n@count[3]: 1\n@ret[1]: 1\n@ret[2]: 1\n@ret[3]: 1\n")
}

func TestKprobeWildcard(t *testing.T) {
	requireKprobes(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", "kprobe:vfs_writ* "+filter(wl)+" { @[probe] = count(); }", "-c", wl+" write 1 5")
	r.want(t, 0, "\n\n@[kprobe:vfs_write]: 5\n")
}

// A wildcard without the probe builtin is one program for all matches (a
// multi-kprobe link where the kernel has them); func is found at run time.
func TestKprobeWildcardFunc(t *testing.T) {
	requireKprobes(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", "kprobe:vfs_writ* "+filter(wl)+" { @n[func] = count(); } kretprobe:vfs_writ* "+filter(wl)+" { @bytes[func] = sum(retval); }",
		"-c", wl+" write 1 5")
	r.want(t, 0, "\n\n@bytes[vfs_write]: 15\n@n[vfs_write]: 5\n")
	if r.stderr != "Attached 2 probes\n" {
		t.Errorf("stderr %q, want two probes attached (one per wildcard)", r.stderr)
	}
}

// TestKprobeMultiLink checks what a wildcard attaches: one program, held
// by one multi-kprobe link where the kernel has them, else by one kprobe
// link per function.
func TestKprobeMultiLink(t *testing.T) {
	requireKprobes(t)
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-e", `kprobe:vfs_rea* { @ = count(); }`)
	stderr := &testutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached") })
	progs, links := testutil.BPFObjects(t, cmd.Process.Pid)
	var types []link.Type
	for _, id := range links {
		l, err := link.NewFromID(link.ID(id))
		if err != nil {
			t.Fatal(err)
		}
		info, err := l.Info()
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, info.Type)
	}
	// One program for the wildcard, beside the one that flushes count
	// slots where the kernel has them.
	var probes int
	for _, id := range progs {
		p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
		if err != nil {
			t.Fatal(err)
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if info.Name != plan.FlushProgram {
			probes++
		}
	}
	if probes != 1 {
		t.Errorf("%d programs for one wildcard, want 1", probes)
	}
	multi := features.HaveBPFLinkKprobeMulti() == nil
	switch {
	case multi && !slices.Equal(types, []link.Type{link.KprobeMultiType}):
		t.Errorf("link types %v, want one kprobe_multi link", types)
	case !multi && (len(types) < 2 || slices.ContainsFunc(types, func(ty link.Type) bool { return ty != link.PerfEventType })):
		t.Errorf("link types %v, want a perf-event link per function", types)
	}
	t.Logf("multi-kprobe links: %v; links %v", multi, types)
}

func TestFentryArgs(t *testing.T) {
	requireTrampolines(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", "fentry:vfs_write "+filter(wl)+" { @count[args.count] = count(); @f[func] = count(); } fexit:vfs_write "+filter(wl)+" { @ret[retval, args.count] = count(); }",
		"-c", wl+" write 1 3")
	r.want(t, 0, "\n\n@count[1]: 1\n@count[2]: 1\n@count[3]: 1\n@f[vfs_write]: 3\n@ret[1, 1]: 1\n@ret[2, 2]: 1\n@ret[3, 3]: 1\n")
}

func TestFentryCount(t *testing.T) {
	requireTrampolines(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", "kfunc:vfs_write "+filter(wl)+" { @[probe] = count(); }", "-c", wl+" write 1 10")
	r.want(t, 0, "\n\n@[fentry:vfs_write]: 10\n")
}

// Where the kernel cannot run a probe, tracing stops before anything is
// loaded with one sentence saying why, and --dry-run says it too: the
// verifier still checks the program when the kernel loads its type.
func TestKprobeUnavailable(t *testing.T) {
	for _, c := range []struct {
		probe     string
		available error
	}{
		{"kprobe:vfs_read", kprobe.Available()},
		{"fexit:vfs_read", fentry.Available()},
	} {
		script := c.probe + " { @ = count(); }"
		dry := runCLI(t, "--dry-run", "-e", script)
		dry.want(t, 0, "")
		if c.available == nil {
			if dry.stderr != "Dry run: 1 program passed the verifier; nothing was attached\n" {
				t.Errorf("stderr %q", dry.stderr)
			}
			continue
		}
		if !errors.Is(c.available, ebpf.ErrNotSupported) {
			t.Errorf("%s: %v does not wrap ebpf.ErrNotSupported", c.probe, c.available)
		}
		reason := c.probe + ": " + c.available.Error() + "; "
		verified := strings.HasPrefix(dry.stderr, "ebtrace: verified, cannot attach here: "+reason) &&
			strings.HasSuffix(dry.stderr, " instead\nDry run: 1 program passed the verifier; nothing was attached\n")
		compiled := strings.HasPrefix(dry.stderr, "ebtrace: compiled, not loaded: "+reason) &&
			strings.HasSuffix(dry.stderr, " instead\nDry run: 0 programs passed the verifier; nothing was attached\n")
		if !verified && !compiled {
			t.Errorf("%s --dry-run stderr:\n%s", c.probe, dry.stderr)
		}
		r := runCLI(t, "-e", script)
		r.want(t, 1, "")
		if msg := "ebtrace: " + reason; !strings.HasPrefix(r.stderr, msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s stderr:\n%s", c.probe, r.stderr)
		}
	}
}

// TestKprobeVerifies passes kprobe programs through the verifier, whether
// or not this kernel can attach them: the kprobe program type is there
// even without CONFIG_KPROBES. A wildcard is one program.
func TestKprobeVerifies(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.SkipUnsupported(t, features.HaveProgramType(ebpf.Kprobe))
	r := runCLI(t, "--dry-run", "-e", `
kprobe:vfs_read { @[kstack, comm] = count(); @a = hist(arg2); printf("%d %s\n", arg1, func); }
kretprobe:vfs_read { @r = hist(retval); }
kprobe:vfs_rea* { @f[func] = count(); }`)
	r.want(t, 0, "")
	if !strings.HasSuffix(r.stderr, "Dry run: 3 programs passed the verifier; nothing was attached\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestKprobeDiagnostics(t *testing.T) {
	r := runCLI(t, "-e", "kretprobe:vfs_read { @ = arg0; }")
	r.want(t, 1, "")
	if !strings.HasPrefix(r.stderr, "stdin:1:26: error: arg0 is not defined in kretprobe probes\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return
	}
	r = runCLI(t, "-e", "fentry:vfs_read { @ = args.cont; }")
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
	r := runCLI(t, "-l", "kprobe:vfs_read")
	r.want(t, 0, "kprobe:vfs_read\n")
	r = runCLI(t, "-l", "kr:vfs_read")
	r.want(t, 0, "kretprobe:vfs_read\n")
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return
	}
	r = runCLI(t, "-lv", "kfunc:vfs_read")
	r.want(t, 0, `fentry:vfs_read
    struct file * file
    char * buf
    size_t count
    loff_t * pos
`)
	r = runCLI(t, "-lv", "fexit:vfs_read")
	r.want(t, 0, `fexit:vfs_read
    struct file * file
    char * buf
    size_t count
    loff_t * pos
    ssize_t retval
`)
}
