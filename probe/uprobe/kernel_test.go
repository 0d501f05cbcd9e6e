package uprobe

import (
	"fmt"
	"io"
	"maps"
	"os/exec"
	"testing"

	"ebtrace/internal/testutil"
	"ebtrace/probe"
	"ebtrace/probe/uprobe/uprobetest"
)

// attachCounting expands spec, attaches a program counting hits by the
// builtin named by, and returns the counter.
func attachCounting(t *testing.T, p Provider, spec, by string, env *probe.Env) *uprobetest.Counter {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	insts, err := p.Expand(spec, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 1 {
		t.Fatalf("%s expands to %d probes", spec, len(insts))
	}
	arg, ok := insts[0].Builtin(by)
	if !ok {
		t.Fatalf("%s has no %s", spec, by)
	}
	c := uprobetest.CountBy(t, arg)
	l, err := insts[0].Attach(c.Prog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return c
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// want maps i -> f(i) hits for i in 0..n-1.
func want(n int, f func(uint64) uint64) map[uint64]uint64 {
	m := map[uint64]uint64{}
	for i := range uint64(n) {
		m[f(i)]++
	}
	return m
}

func checkCounts(t *testing.T, c *uprobetest.Counter, want map[uint64]uint64) {
	t.Helper()
	if got := c.Counts(t); !maps.Equal(got, want) {
		t.Errorf("hits by value %v, want %v", got, want)
	}
}

// Each argument and the return value reach the program, once per call,
// at -O0 and -O2.
func TestAttachC(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			bin := testutil.BuildC(t, "testdata/target.c", opt)
			env := &probe.Env{}
			a0 := attachCounting(t, Uprobe, bin+":add", "arg0", env)
			a1 := attachCounting(t, Uprobe, bin+":a*", "arg1", env)
			ret := attachCounting(t, Uretprobe, bin+":add", "retval", env)
			run(t, bin, "100")
			checkCounts(t, a0, want(100, func(i uint64) uint64 { return i }))
			checkCounts(t, a1, want(100, func(i uint64) uint64 { return 2 * i }))
			checkCounts(t, ret, want(100, func(i uint64) uint64 { return 3 * i }))
		})
	}
}

// A probe at an offset or an address fires as the one at the symbol.
func TestAttachOffsetAndAddress(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/target.c", "-O2")
	add := symbolOf(t, bin, "add")
	second := secondInstruction(t, bin)
	env := &probe.Env{}
	// arg0's register still holds the argument after add's first
	// instruction: add computes into eax.
	off := attachCounting(t, Uprobe, fmt.Sprintf("%s:add+%d", bin, second), "arg0", env)
	addr := attachCounting(t, Uprobe, fmt.Sprintf("%s:%#x", bin, add.Addr), "arg1", env)
	run(t, bin, "50")
	checkCounts(t, off, want(50, func(i uint64) uint64 { return i }))
	checkCounts(t, addr, want(50, func(i uint64) uint64 { return 2 * i }))
}

// -p limits a probe to one process: a second run of the same binary
// is not counted.
func TestAttachPID(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/target.c", "-O2")
	traced := exec.Command(bin, "20", "wait")
	stdin, err := traced.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := traced.Start(); err != nil {
		t.Fatal(err)
	}
	defer traced.Process.Kill()
	c := attachCounting(t, Uprobe, bin+":add", "arg0", &probe.Env{PID: traced.Process.Pid})
	run(t, bin, "7")
	io.WriteString(stdin, "go\n")
	if err := traced.Wait(); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, c, want(20, func(i uint64) uint64 { return i }))
}

// A Go function's uprobe fires once per call. Go passes arguments in rax,
// rbx, ... (its register ABI), so the count goes by rax rather than arg0.
func TestAttachGo(t *testing.T) {
	regs := hostRegs(t)
	if regs.Name != "amd64" {
		t.Skip("the Go register ABI check is written for amd64")
	}
	wl := testutil.Workload(t)
	insts, err := Uprobe.Expand(wl+":main.target", &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rax, err := regs.Register("rax")
	if err != nil {
		t.Fatal(err)
	}
	c := uprobetest.CountBy(t, probe.Arg{Type: Word, Offset: rax})
	if err := Available(); err != nil {
		t.Skip(err)
	}
	l, err := insts[0].Attach(c.Prog)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	run(t, wl, "call", "300")
	checkCounts(t, c, want(300, func(i uint64) uint64 { return i }))
}

// A shared library named the way the dynamic linker finds it: strtol in
// libc (glibc's inline atoi at -O2), called once per run of the target
// after it reads stdin, counted for the target's PID only.
func TestAttachLibrary(t *testing.T) {
	bin := testutil.BuildC(t, "testdata/target.c", "-O2")
	traced := exec.Command(bin, "1", "wait")
	stdin, err := traced.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := traced.Start(); err != nil {
		t.Fatal(err)
	}
	defer traced.Process.Kill()
	c := attachCounting(t, Uprobe, "libc:strtol", "arg0", &probe.Env{PID: traced.Process.Pid})
	run(t, bin, "3")
	io.WriteString(stdin, "go\n")
	if err := traced.Wait(); err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, n := range c.Counts(t) {
		total += n
	}
	if total != 1 {
		t.Errorf("strtol hits %d, want 1", total)
	}
}
