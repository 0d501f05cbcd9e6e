package kprobe_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/kprobe"
	"github.com/ebtrace/ebtrace/internal/probe/special"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// Kprobe programs go through the verifier on any kernel that runs BPF,
// kprobes or not: loading does not attach. The collection is created
// directly because load.Load refuses probes the kernel cannot attach.
func TestVerifierAcceptsKprobes(t *testing.T) {
	testutil.RequireRoot(t)
	reg := probe.NewRegistry(special.Begin, special.End, kprobe.Kprobe, kprobe.Kretprobe)
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	res, err := compile.Compile(source.NewFile("test.bt", `
kprobe:vfs_read { @[comm] = count(); printf("%d\n", arg2); }
kprobe:vfs_write+0, k:vfs_writev /arg0 != 0/ {
	@args[func, probe] = sum(arg0 + arg1 + arg2 + arg3 + arg4 + arg5);
	@h = hist(arg2); printf("%s %x %u\n", func, arg1, arg5);
}
kretprobe:vfs_read, kr:vfs_write { @ret[func] = hist(retval); @neg = retval > 0x7fffffffffffffff ? 1 : 0; }
`), reg, env, compile.Options{Plan: plan.DefaultOptions})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Programs); n != 5 {
		t.Fatalf("%d programs, want 5", n)
	}
	coll, err := ebpf.NewCollection(res.Spec())
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Log(strings.Join(ve.Log, "\n"))
		}
		t.Fatal(err)
	}
	coll.Close()
}
