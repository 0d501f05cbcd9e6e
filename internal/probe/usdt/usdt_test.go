package usdt

import (
	"debug/elf"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/probe/uprobe"
	"github.com/ebtrace/ebtrace/internal/probe/uprobe/uprobetest"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/types"
)

func names(insts []probe.Instance) []string {
	var out []string
	for _, in := range insts {
		out = append(out, in.Name())
	}
	return out
}

func TestExpand(t *testing.T) {
	if _, err := arch.Host(); err != nil {
		t.Skip(err)
	}
	bin := buildTicker(t, "-O2")
	env := &probe.Env{}
	for _, c := range []struct {
		spec string
		want []string
	}{
		{bin + ":ebtrace:tick", []string{"usdt:" + bin + ":ebtrace:tick"}},
		{bin + ":tick", []string{"usdt:" + bin + ":ebtrace:tick"}},
		{bin + ":ebtrace:*", []string{"usdt:" + bin + ":ebtrace:guarded", "usdt:" + bin + ":ebtrace:sizes", "usdt:" + bin + ":ebtrace:tick", "usdt:" + bin + ":ebtrace:total"}},
		{bin + ":e*:?ick", []string{"usdt:" + bin + ":ebtrace:tick"}},
	} {
		insts, err := Provider{}.Expand(c.spec, env)
		if err != nil || !slices.Equal(names(insts), c.want) {
			t.Errorf("Expand(%q) = %v, %v; want %v", c.spec, names(insts), err, c.want)
		}
	}
	insts, err := Provider{}.Expand(bin+":ebtrace:guarded", env)
	if err != nil {
		t.Fatal(err)
	}
	in := insts[0].(*instance)
	if len(in.sites) != 1 || in.sites[0].semaphore == 0 || in.sites[0].offset == 0 {
		t.Errorf("guarded sites %+v, want one with a semaphore", in.sites)
	}
	for name, want := range map[string]types.Type{"arg0": types.IntOf(4, true), "arg1": types.Int64, "arg2": types.IntOf(4, true)} {
		if a, ok := in.Builtin(name); !ok || a.Type != want || a.Load == nil {
			t.Errorf("%s = %+v, %v; want %v with load code", name, a, ok, want)
		}
	}
	for _, name := range []string{"arg3", "retval", "func", "argx"} {
		if _, ok := in.Builtin(name); ok {
			t.Errorf("guarded has %s", name)
		}
	}
	var pe *probe.Error
	if _, err := in.Arg("x"); !errors.As(err, &pe) {
		t.Errorf("args.x: %v", err)
	}
	tick, err := Provider{}.Expand(bin+":tick", env)
	if err != nil {
		t.Fatal(err)
	}
	if classed, err := (Provider{}).Expand(bin+":[e]btrace:t[!o]ck", env); err != nil || len(classed) != 1 || classed[0].Name() != tick[0].Name() {
		t.Errorf("[e]btrace:t[!o]ck expands to %v, %v; want %s", classed, err, tick[0].Name())
	}
	if s := tick[0].(*instance).sites; len(s) != 1 || s[0].semaphore != 0 {
		t.Errorf("tick sites %+v, want one without semaphore", s)
	}
	if a, ok := tick[0].Builtin("arg1"); !ok || a.Type != uprobe.Word {
		t.Errorf("tick arg1 = %+v, %v; want a user pointer", a, ok)
	}
}

func TestExpandErrors(t *testing.T) {
	bin := buildTicker(t, "-O2")
	wl := testutil.Workload(t)
	for _, c := range []struct{ spec, msg, hint string }{
		{bin + ":ebtrace:tock", "has no USDT probe ebtrace:tock", "did you mean ebtrace:tick"},
		{bin + ":tock", "has no USDT probe *:tock", "did you mean tick?"},
		{bin + ":nope:*", "has no USDT probe nope:*", "ebtrace -l 'usdt:" + bin + ":*'"},
		{wl + ":p:n", wl + " has no USDT probes", "STAP_PROBE"},
		{bin, "must be PATH:PROVIDER:NAME or PATH:NAME", ""},
		{bin + ":a:b:c", "must be PATH:PROVIDER:NAME", ""},
		{":p:n", "must be PATH:PROVIDER:NAME", ""},
		{"/nonexistent/ticker:p:n", "does not exist", ""},
		{bin + ":ebtrace:t[ick", "usdt:" + bin + ":ebtrace:t[ick: bad wildcard pattern t[ick", "wildcards are"},
	} {
		_, err := Provider{}.Expand(c.spec, &probe.Env{})
		var pe *probe.Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, c.msg) || !strings.Contains(strings.Join(pe.Hints, "\n"), c.hint) {
			t.Errorf("usdt:%s: %v (%#v); want %q, hint %q", c.spec, err, pe, c.msg, c.hint)
		}
	}
}

func TestList(t *testing.T) {
	if _, err := arch.Host(); err != nil {
		t.Skip(err)
	}
	bin := buildTicker(t, "-O0")
	reg := probe.NewRegistry(Provider{})
	var out strings.Builder
	if err := reg.List(&probe.Env{}, "U:"+bin+":*", true, &out); err != nil {
		t.Fatal(err)
	}
	// Argument places depend on the compiler; their types do not.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	notes, err := Notes(f)
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string][]string{}
	for _, n := range notes {
		specs[n.Name] = strings.Fields(n.Args)
	}
	var want strings.Builder
	for _, p := range []struct {
		name  string
		types []string
	}{
		{"guarded", []string{"int32", "int64", "int32"}},
		{"sizes", []string{"int8", "uint16", "int64"}},
		{"tick", []string{"int32", "void *"}},
		{"total", []string{"int32"}},
	} {
		fmt.Fprintf(&want, "usdt:%s:ebtrace:%s\n", bin, p.name)
		if len(specs[p.name]) != len(p.types) {
			t.Fatalf("%s has arguments %q", p.name, specs[p.name])
		}
		for i, typ := range p.types {
			fmt.Fprintf(&want, "    arg%d: %s (%s)\n", i, typ, specs[p.name][i])
		}
	}
	if out.String() != want.String() {
		t.Errorf("-lv lists\n%s\nwant\n%s", out.String(), want.String())
	}
}

// Debian's python3 is built with USDT probes.
func TestListPython(t *testing.T) {
	python := debianPython(t)
	list, err := Provider{}.Probes(python+":*", &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 {
		t.Fatalf("%s has a .note.stapsdt section, but no USDT probes are listed", python)
	}
	var got []string
	for _, l := range list {
		got = append(got, l.Name)
	}
	for _, want := range []string{"function__entry", "function__return", "gc__start", "line"} {
		if !slices.Contains(got, "usdt:"+python+":python:"+want) {
			t.Errorf("python3 probes %v lack python:%s", got, want)
		}
	}
}

// debianPython returns the system's python3, not one a version manager
// put first in $PATH, and skips the test unless its ELF file has a
// .note.stapsdt section: a python built without USDT probes.
func debianPython(t *testing.T) string {
	const python = "/usr/bin/python3"
	f, err := elf.Open(python)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is not installed", python)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Section(".note.stapsdt") == nil {
		t.Skipf("%s has no .note.stapsdt section: it was built without USDT probes", python)
	}
	return python
}

// attachCounting attaches a program counting hits of the probe by the
// value of one argument.
func attachCounting(t *testing.T, spec, by string, env *probe.Env) *uprobetest.Counter {
	t.Helper()
	testutil.SkipUnsupported(t, uprobe.Available())
	insts, err := Provider{}.Expand(spec, env)
	if err != nil {
		t.Fatal(err)
	}
	return uprobetest.Attach(t, insts[0], by)
}

func want(n int, f func(i int64) int64) map[uint64]uint64 {
	m := map[uint64]uint64{}
	for i := range int64(n) {
		m[uint64(f(i))]++
	}
	return m
}

// Every argument form gcc emits at -O0 (memory) and -O2 (registers)
// arrives with its value and sign; the guarded probe fires, so its
// semaphore was raised.
func TestAttach(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			bin := buildTicker(t, opt)
			env := &probe.Env{}
			checks := []struct {
				probe, arg string
				want       map[uint64]uint64
			}{
				{"tick", "arg0", want(10, func(i int64) int64 { return i })},
				{"sizes", "arg0", want(10, func(i int64) int64 { return -i })},
				{"sizes", "arg1", want(10, func(i int64) int64 { return 65000 + i })},
				{"sizes", "arg2", want(10, func(i int64) int64 { return i * -1000000000 })},
				{"guarded", "arg0", want(10, func(i int64) int64 { return i })},
				{"guarded", "arg1", want(10, func(i int64) int64 { return i - 5000000000 })},
				{"guarded", "arg2", want(10, func(int64) int64 { return -7 })},
				{"total", "arg0", want(10, func(i int64) int64 { return i * (i + 1) / 2 })},
			}
			var counters []*uprobetest.Counter
			for _, c := range checks {
				counters = append(counters, attachCounting(t, bin+":ebtrace:"+c.probe, c.arg, env))
			}
			names := attachCounting(t, bin+":ebtrace:tick", "arg1", env)
			if out, err := exec.Command(bin, "10").CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			for i, c := range checks {
				if got := counters[i].Counts(t); !maps.Equal(got, c.want) {
					t.Errorf("%s %s: hits by value %v, want %v", c.probe, c.arg, got, c.want)
				}
			}
			// Two string pointers, "even" and "odd", five times each.
			if got := slices.Collect(maps.Values(names.Counts(t))); !slices.Equal(got, []uint64{5, 5}) {
				t.Errorf("tick arg1: hits per pointer %v, want 5 and 5", got)
			}
		})
	}
}

// The semaphore is raised only for the traced process when a PID is
// given, and drops back when the probe is detached.
func TestSemaphorePID(t *testing.T) {
	bin := buildTicker(t, "-O2")
	traced := testutil.StartGated(t, bin, "4", "wait")
	c := attachCounting(t, bin+":guarded", "arg0", &probe.Env{PID: traced.Pid()})
	if out, err := exec.Command(bin, "7").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	traced.Release(t)
	if got, want := c.Counts(t), want(4, func(i int64) int64 { return i }); !maps.Equal(got, want) {
		t.Errorf("hits by value %v, want %v", got, want)
	}
}

// The probes of python3, a real program: function__entry's semaphore
// must be raised for CPython to fire it; arg2 is the frame's line.
func TestAttachPython(t *testing.T) {
	python := debianPython(t)
	insts, err := Provider{}.Expand(python+":python:function__entry", &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) == 0 {
		t.Fatal("no instances")
	}
	c := attachCounting(t, python+":python:function__entry", "arg2", &probe.Env{})
	// CPython 3.11 fires function__entry when it starts or resumes a frame
	// outside its inlined calls: each next() of a new generator. The
	// generator's code is on line 5002, where no module CPython loads at
	// start-up has any: the five resumptions are the only hits there.
	script := strings.Repeat("\n", 5000) + "def ebtrace_probe_target():\n    yield 1\n\nfor i in range(5):\n    next(ebtrace_probe_target())\n"
	if out, err := exec.Command(python, "-I", "-S", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := c.Counts(t)[5002]; got != 5 {
		t.Errorf("function__entry at line 5002 seen %d times, want 5 (all hits: %v)", got, c.Counts(t))
	}
}
