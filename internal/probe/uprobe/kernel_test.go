package uprobe

import (
	"fmt"
	"maps"
	"os/exec"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/uprobe/uprobetest"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// attachCounting expands spec, attaches a program counting hits by the
// builtin named by, and returns the counter.
func attachCounting(t *testing.T, p Provider, spec, by string, env *probe.Env) *uprobetest.Counter {
	t.Helper()
	testutil.SkipUnsupported(t, Available())
	insts, err := p.Expand(spec, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 1 {
		t.Fatalf("%s expands to %d probes", spec, len(insts))
	}
	return uprobetest.Attach(t, insts[0], by)
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
	traced := testutil.StartGated(t, bin, "20", "wait")
	c := attachCounting(t, Uprobe, bin+":add", "arg0", &probe.Env{PID: traced.Pid()})
	run(t, bin, "7")
	traced.Release(t)
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
	testutil.SkipUnsupported(t, Available())
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
	traced := testutil.StartGated(t, bin, "1", "wait")
	c := attachCounting(t, Uprobe, "libc:strtol", "arg0", &probe.Env{PID: traced.Pid()})
	run(t, bin, "3")
	traced.Release(t)
	var total uint64
	for _, n := range c.Counts(t) {
		total += n
	}
	if total != 1 {
		t.Errorf("strtol hits %d, want 1", total)
	}
}

// attachEach expands spec, a function of bin, and attaches to each
// instance a program counting hits by the builtin named by; the counters
// are keyed by instance name without the "PROVIDER:PATH:" prefix. With a
// PID in env, spec is expanded as written, without bin.
func attachEach(t *testing.T, p Provider, bin, spec, by string, env *probe.Env) map[string]*uprobetest.Counter {
	t.Helper()
	testutil.SkipUnsupported(t, Available())
	if env.PID == 0 {
		spec = bin + ":" + spec
	}
	insts, err := p.Expand(spec, env)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*uprobetest.Counter{}
	for _, in := range insts {
		out[strings.TrimPrefix(in.Name(), p.names[0]+":"+bin+":")] = uprobetest.Attach(t, in, by)
	}
	return out
}

// total returns a counter's hits, whatever the value counted by.
func total(t *testing.T, c *uprobetest.Counter) uint64 {
	t.Helper()
	var n uint64
	for _, v := range c.Counts(t) {
		n += v
	}
	return n
}

// C++ functions by mangled name and by C++ name: each overload, method
// and constructor fires once per call, with its arguments and return
// value, at -O0 and -O2.
func TestAttachCPP(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			bin := cppTarget(t, opt)
			mangled := attachEach(t, Uprobe, bin, "_ZN2ns3addEii", "arg1", &probe.Env{})
			byName := attachEach(t, Uprobe, bin, "cpp:ns::mul", "arg0", &probe.Env{})
			overloads := attachEach(t, Uprobe, bin, "cpp:ns::add", "arg0", &probe.Env{})
			shape := attachEach(t, Uprobe, bin, "c++:Shape::*", "arg1", &probe.Env{})
			ret := attachEach(t, Uretprobe, bin, "cpp:Shape::area", "retval", &probe.Env{})
			run(t, bin, "100")

			checkCounts(t, mangled["_ZN2ns3addEii"], want(100, func(i uint64) uint64 { return 2 * i }))
			checkCounts(t, byName["_ZN2ns3mulEii"], map[uint64]uint64{2: 1})
			if len(overloads) != 3 {
				t.Fatalf("cpp:ns::add attached %d probes, want the 3 overloads", len(overloads))
			}
			checkCounts(t, overloads["_ZN2ns3addEii"], want(100, func(i uint64) uint64 { return i }))
			checkCounts(t, overloads["_ZN2ns3addElll"], want(100, func(i uint64) uint64 { return i }))
			if n := total(t, overloads["_ZN2ns3addEdd"]); n != 1 {
				t.Errorf("ns::add(double, double) hits %d, want 1", n)
			}
			// arg1 is the first argument after this.
			checkCounts(t, shape["_ZN5ShapeC1Eii"], map[uint64]uint64{2: 1})
			checkCounts(t, shape["_ZN5Shape4growEi"], map[uint64]uint64{1: 1})
			checkCounts(t, shape["_ZNK5Shape6scaledEi"], map[uint64]uint64{1: 1})
			if n := total(t, shape["_ZNK5Shape4areaEv"]); n != 100 || len(shape) != 4 {
				t.Errorf("Shape::area hits %d, want 100; c++:Shape::* attached %d probes, want 4", n, len(shape))
			}
			checkCounts(t, ret["_ZNK5Shape4areaEv"], map[uint64]uint64{6: 100})
		})
	}
}

// With -p, cpp:NAME alone names a function of the process's executable,
// and only that process is counted.
func TestAttachCPPPID(t *testing.T) {
	bin := cppTarget(t, "-O2")
	traced := testutil.StartGated(t, bin, "20", "wait")
	c := attachEach(t, Uprobe, bin, "cpp:ns::add", "arg0", &probe.Env{PID: traced.Pid()})
	run(t, bin, "7")
	traced.Release(t)
	checkCounts(t, c["_ZN2ns3addEii"], want(20, func(i uint64) uint64 { return i }))
	checkCounts(t, c["_ZN2ns3addElll"], want(20, func(i uint64) uint64 { return i }))
}
