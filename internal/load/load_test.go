package load_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

func compileScript(t *testing.T, script string) *compile.Result {
	t.Helper()
	return tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), script, compile.Options{Plan: plan.DefaultOptions})
}

// Every program of a script using each construct passes the verifier,
// tracepoint programs included (loading does not attach).
func TestVerifierAccepts(t *testing.T) {
	testutil.RequireRoot(t)
	res := compileScript(t, `
tracepoint:syscalls:sys_enter_openat /comm != "x" && pid > 1/ {
	$f = str(args.filename); @opens[comm, $f] = count(); @flags = hist(args.flags);
	@l = lhist(args.mode, 0, 1000, 10); @s = stats(args.dfd); @mn = min(args.flags); @mx = max(args.flags);
	@a = avg(args.flags); @sum = sum(args.flags); @last[tid] = nsecs; @str = $f; @n++; @n += elapsed;
	if (@n > 5) { delete(@last[tid]); } else { printf("%s %d %u %x %c %p\n", $f, -1, cpu, uid, 65, gid); }
	print(@opens); clear(@str); zero(@s); @p[probe] = count(); exit();
}
tracepoint:sched:sched_process_exec { printf("%s %d\n", args.filename, args.pid); @e[args.filename] = count(); }
tracepoint:task:task_rename { printf("%s -> %s\n", args.oldcomm, args.newcomm); }
tracepoint:syscalls:sys_exit_openat { @ret = hist(args.ret); @neg = args.ret < 0 ? 1 : 0; }
interval:ms:10 { @ticks = count(); }
BEGIN { @start = nsecs; } END { printf("%d\n", cpid); }
`)
	tracetest.Load(t, res).Close()
}

// A program the verifier rejects is reported at the script position of the
// instruction it rejected. The test corrupts the code of line 3 (a read of
// an uninitialised register) to make the kernel refuse it.
func TestVerifierErrorPosition(t *testing.T) {
	testutil.RequireRoot(t)
	res := compileScript(t, "BEGIN {\n\t@a = 1;\n\t@b = 2;\n\t@c = 3;\n}\n")
	insns := res.Programs[0].Insns
	for i, ins := range insns {
		pos, ok := ins.Source().(emit.Position)
		if line, _ := res.File.Position(pos.Span.Start); ok && line == 3 && ins.Symbol() == "" {
			insns[i] = asm.Mov.Reg(asm.R0, asm.R9).WithSource(pos)
			break
		}
	}
	_, err := load.Load(res, load.Config{})
	var v *load.VerifierError
	if !errors.As(err, &v) {
		t.Fatalf("got %v, want a VerifierError", err)
	}
	msg := v.Error()
	if !strings.HasPrefix(msg, "test.bt:3:2: error: the kernel's verifier rejected the code for this (in BEGIN): R9 !read_ok") ||
		!strings.Contains(msg, "\n    \t@b = 2;\n     ^~~~~") && !strings.Contains(msg, "\n     @b = 2;\n     ^~~~~") {
		t.Errorf("diagnostic:\n%s", msg)
	}
	if len(v.Log) == 0 {
		t.Error("no verifier log kept for -v")
	}
}

// Many string comparisons in one probe stay within the verifier's limit on
// pending branches (found by generating random scripts: byte-wise compares
// failed with EFAULT past ~8000 branches).
func TestManyStringComparisons(t *testing.T) {
	testutil.RequireRoot(t)
	script := "BEGIN { $a = comm; $b = comm; " + strings.Repeat("$x = $a == $b; ", 300) + "exit(); }"
	obj, err := load.Load(compileScript(t, script), load.Config{})
	if err != nil {
		t.Fatal(err)
	}
	obj.Close()
}

// A probe too long for BPF's 16-bit jump offsets is a diagnostic, not a
// verifier rejection.
func TestProbeTooLarge(t *testing.T) {
	long := strings.Repeat("a", 190)
	script := `BEGIN { $a = "` + long + `"; $b = $a; if (pid) { ` + strings.Repeat("@x = $a == $b; ", 1000) + `} }`
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	_, err := compile.Compile(source.NewFile("big.bt", script), all.Registry(), env, compile.Options{Plan: plan.DefaultOptions})
	var d *source.Diagnostics
	if !errors.As(err, &d) || len(d.Items) != 1 || d.Items[0].Code != "too-large" ||
		!strings.Contains(d.Items[0].Message, "jumps within a program reach at most 32767") {
		t.Errorf("got %v, want one too-large diagnostic", err)
	}
}
