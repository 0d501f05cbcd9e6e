package load_test

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// compileUnsafe compiles script as --unsafe -k would.
func compileUnsafe(t *testing.T, script string) *compile.Result {
	t.Helper()
	opts := plan.DefaultOptions
	opts.HelperErrors = true
	return tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(true), script, compile.Options{Plan: opts})
}

// The system functions pass the verifier in an event program, with -k's
// checks after every probe read and map update.
func TestSysfuncsVerify(t *testing.T) {
	testutil.RequireRoot(t)
	res := compileUnsafe(t, `
tracepoint:syscalls:sys_exit_openat /args.ret < 0/ {
	printf("%s %s %s %s\n", strerror(-args.ret), syscall_name(args.__syscall_nr), username, ntop(2, args.ret));
	@e[strerror(-args.ret), username, ntop(pton("::1"))] = count();
	$m = macaddr(args.ret); @mac = $m;
	@cg[cgroup] = len(ustack) + len(kstack) + len(@e) + has_key(@cg, 1) + pton("1.2.3.4");
	signal("SIGUSR1"); system("echo %d", pid); cat("/proc/%d/comm", pid);
	errorf("%s", comm); warnf("x"); time(); time("%H\n");
}
tracepoint:syscalls:sys_enter_openat { $f = str(args.filename); @f[$f] = 1; }`)
	tracetest.Load(t, res).Close()
}

// override() passes the verifier in a kprobe, where kernels built with
// CONFIG_BPF_KPROBE_OVERRIDE have bpf_override_return; the program loads
// even where kprobes do not attach.
func TestOverrideVerifies(t *testing.T) {
	testutil.RequireRoot(t)
	switch err := features.HaveProgramHelper(ebpf.Kprobe, asm.FnOverrideReturn); {
	case errors.Is(err, ebpf.ErrNotSupported):
		t.Skipf("this kernel has no bpf_override_return (CONFIG_BPF_KPROBE_OVERRIDE): %v", err)
	case err != nil:
		t.Fatal(err)
	}
	res := compileUnsafe(t, `kprobe:do_sys_openat2 { override(-1); }`)
	dry, err := load.Verify(res)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Verified+len(dry.Unattachable) != 1 {
		t.Errorf("verified %d, unattachable %v; want the kprobe verified", dry.Verified, dry.Unattachable)
	}
}
