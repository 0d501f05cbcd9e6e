package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/probe/uprobe"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// These tests drive uprobes, uretprobes and USDT probes end to end with
// C and C++ programs gcc and g++ build from the providers' testdata, and
// the Go workload.

func cTarget(t *testing.T, opt string) string {
	t.Helper()
	return testutil.BuildC(t, "../../internal/probe/uprobe/testdata/target.c", opt)
}

func cppTarget(t *testing.T) string {
	t.Helper()
	return testutil.BuildCXX(t, "../../internal/probe/uprobe/testdata/target.cc")
}

func cTicker(t *testing.T, opt string) string {
	t.Helper()
	return testutil.BuildC(t, "../../internal/probe/usdt/testdata/ticker.c", opt, "../../internal/probe/usdt/testdata/guarded.c")
}

func TestUprobeC(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			bin := cTarget(t, opt)
			r := runCLI(t, "-e", "uprobe:"+bin+":add { @ = count(); }", "-c", bin+" 1000")
			r.want(t, 0, "\n\n@: 1000\n")

			r = runCLI(t, "-e", "u:"+bin+":add { @a[arg0] = count(); @s = sum(arg1); @f[func] = count(); @p[probe] = count(); }", "-c", bin+" 5")
			r.want(t, 0, "\n\n@a[0]: 1\n@a[1]: 1\n@a[2]: 1\n@a[3]: 1\n@a[4]: 1\n@f[add]: 5\n@p[uprobe:"+bin+":add]: 5\n@s: 20\n")

			r = runCLI(t, "-e", "uretprobe:"+bin+":add { @r[retval] = count(); }", "-c", bin+" 4")
			r.want(t, 0, "\n\n@r[0]: 1\n@r[3]: 1\n@r[6]: 1\n@r[9]: 1\n")
		})
	}
}

// C++ functions by mangled name and by cpp: name; the cpp: name takes
// every overload, and func shows each demangled with its parameters.
func TestUprobeCPP(t *testing.T) {
	bin := cppTarget(t)
	r := runCLI(t, "-e", "uprobe:"+bin+":_ZN2ns3addEii { @ = sum(arg1); @f[func] = count(); }", "-c", bin+" 5")
	r.want(t, 0, "\n\n@: 20\n@f[ns::add(int, int)]: 5\n")

	r = runCLI(t, "-e", "uprobe:"+bin+":cpp:ns::add { @[func, probe] = count(); }", "-c", bin+" 5")
	r.want(t, 0, "\n\n@[ns::add(double, double), uprobe:"+bin+":_ZN2ns3addEdd]: 1\n"+
		"@[ns::add(int, int), uprobe:"+bin+":_ZN2ns3addEii]: 5\n"+
		"@[ns::add(long, long, long), uprobe:"+bin+":_ZN2ns3addElll]: 5\n")
	if r.stderr != "Attached 3 probes\n" {
		t.Errorf("stderr %q", r.stderr)
	}

	r = runCLI(t, "-e", "uprobe:"+bin+":cpp:Shape::* { @[func] = count(); } uretprobe:"+bin+":cpp:Shape::area { @r[retval] = count(); }", "-c", bin+" 7")
	r.want(t, 0, "\n\n@[Shape::Shape(int, int)]: 1\n@[Shape::grow(int)]: 1\n@[Shape::scaled(int) const]: 1\n@[Shape::area() const]: 7\n@r[6]: 7\n")
}

func TestUprobeCPPErrors(t *testing.T) {
	bin := cppTarget(t)
	r := runCLI(t, "-e", "uprobe:"+bin+":cpp:ns::ad { }")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, `error: C++ function "ns::ad" does not exist in `+bin) || !strings.Contains(r.stderr, "hint: did you mean ns::add, ") ||
		!strings.Contains(r.stderr, "hint: list its C++ functions with: ebtrace -l 'uprobe:"+bin+":cpp:*'") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = runCLI(t, "-e", "uprobe:"+bin+":cpp:Circle::* { }")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "error: no function of "+bin+` matches "cpp:Circle::*"`) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// -l lists C++ functions by their mangled names, as bpftrace does, and
// with cpp: by the names cpp: probes take.
func TestUprobeListCPP(t *testing.T) {
	bin := cppTarget(t)
	r := runCLI(t, "-l", "uprobe:"+bin+":*")
	for _, name := range []string{"_ZN2ns3addEdd", "_ZN2ns3addEii", "_ZN5ShapeC1Eii", "_ZN5ShapeC2Eii", "_ZNK5Shape4areaEv", "main"} {
		if !strings.Contains(r.stdout, "uprobe:"+bin+":"+name+"\n") {
			t.Errorf("-l lacks %s:\n%s", name, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "::") {
		t.Errorf("-l lists demangled names:\n%s", r.stdout)
	}
	r = runCLI(t, "-l", "uprobe:"+bin+":cpp:ns::*")
	r.want(t, 0, "uprobe:"+bin+":cpp:ns::add\nuprobe:"+bin+":cpp:ns::apply\nuprobe:"+bin+":cpp:ns::mul\n")
}

func TestUprobeGo(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", "uprobe:"+wl+":main.target { @ = count(); }", "-c", wl+" call 1000")
	r.want(t, 0, "\n\n@: 1000\n")
	r = runCLI(t, "-e", "uprobe:"+wl+":main.targ* { @[func] = count(); }", "-c", wl+" call 7")
	r.want(t, 0, "\n\n@[main.target]: 7\n")
}

// A library named as the dynamic linker finds it; the probe name shows
// the file it resolved to.
func TestUprobeLibrary(t *testing.T) {
	bin := cTarget(t, "-O2")
	libc, err := uprobe.Open("libc", 0)
	if _, cacheErr := os.Stat("/etc/ld.so.cache"); err != nil && errors.Is(cacheErr, os.ErrNotExist) {
		t.Skipf("no glibc dynamic linker cache on this system, and no libc found: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	libc.Close()
	// glibc's atoi is an inline call of strtol at -O2: one call per run.
	r := runCLI(t, "-e", "uprobe:libc:strtol /pid == cpid/ { @[probe] = count(); }", "-c", bin+" 5")
	r.want(t, 0, "\n\n@[uprobe:"+libc.Path+":strtol]: 1\n")
}

// -p limits uprobes to one process: another run of the same binary
// while tracing is not counted.
func TestUprobePID(t *testing.T) {
	bin := cTarget(t, "-O2")
	traced := testutil.StartGated(t, bin, "20", "wait")
	r := traceGated(t, traced, "uprobe:"+bin+":add { @ = count(); }", func() {
		if out, err := exec.Command(bin, "7").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	})
	r.want(t, 0, "\n\n@: 20\n")
}

// traceGated runs ebtrace -p on the gated process with script, calls
// during once the probes are attached, then releases the process and
// returns what ebtrace printed when it ended with the process.
func traceGated(t *testing.T, g *testutil.Gated, script string, during func()) result {
	t.Helper()
	testutil.RequireRoot(t)
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "-p", fmt.Sprint(g.Pid()), "-e", script)
	stdout, stderr := &testutil.Buffer{}, &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "Attached") })
	during()
	g.Release(t)
	code := 0
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

func TestUprobeErrors(t *testing.T) {
	bin := cTarget(t, "-O2")
	r := runCLI(t, "-e", "uprobe:"+bin+":ad { }")
	r.want(t, 1, "")
	if want := "hint: did you mean add?\n"; !strings.Contains(r.stderr, `error: function "ad" does not exist in `+bin) || !strings.Contains(r.stderr, want) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = runCLI(t, "-e", "uprobe:"+bin+"x:add { }")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "error: binary "+bin+"x does not exist") || !strings.Contains(r.stderr, "hint: did you mean "+bin+"?") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = runCLI(t, "-e", "uretprobe:"+bin+":add { @ = arg0; }")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "arg0 is not defined in uretprobe probes") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestUprobeList(t *testing.T) {
	bin := cTarget(t, "-O2")
	r := runCLI(t, "-l", "uprobe:"+bin+":ad*")
	r.want(t, 0, "uprobe:"+bin+":add\n")
	r = runCLI(t, "-lv", "ur:"+bin+":add")
	r.want(t, 0, "uretprobe:"+bin+":add\n")
}

// Every argument form reaches the script; the semaphore-guarded probe
// fires, so the kernel raised its semaphore.
func TestUSDT(t *testing.T) {
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			bin := cTicker(t, opt)
			r := runCLI(t, "-e", "usdt:"+bin+":ebtrace:tick { @c = count(); @i[arg0] = count(); @n[str(arg1)] = count(); }"+
				" U:"+bin+":guarded { @g = count(); @v = sum(arg0); @b = min(arg1); @k[arg2] = count(); }"+
				" usdt:"+bin+":ebtrace:sizes { @small = min(arg0); @half = max(arg1); @big = min(arg2); }"+
				" usdt:"+bin+":ebtrace:total { @total = max(arg0); }",
				"-c", bin+" 6")
			r.want(t, 0, "\n\n@b: -5000000000\n@big: -5000000000\n@c: 6\n@g: 6\n@half: 65005\n"+
				"@i[0]: 1\n@i[1]: 1\n@i[2]: 1\n@i[3]: 1\n@i[4]: 1\n@i[5]: 1\n"+
				"@k[-7]: 6\n@n[even]: 3\n@n[odd]: 3\n@small: -5\n@total: 15\n@v: 15\n")
			if r.stderr != "Attached 4 probes\n" {
				t.Errorf("stderr %q", r.stderr)
			}
		})
	}
}

func TestUSDTList(t *testing.T) {
	bin := cTicker(t, "-O2")
	r := runCLI(t, "-l", "usdt:"+bin+":*")
	r.want(t, 0, "usdt:"+bin+":ebtrace:guarded\nusdt:"+bin+":ebtrace:sizes\nusdt:"+bin+":ebtrace:tick\nusdt:"+bin+":ebtrace:total\n")
	r = runCLI(t, "-lv", "usdt:"+bin+":*:tick")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "usdt:"+bin+":ebtrace:tick\n    arg0: int32 (-4@") || !strings.Contains(r.stdout, "\n    arg1: void * (8@") {
		t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
	r = runCLI(t, "-e", "usdt:"+bin+":ebtrace:tock { }")
	r.want(t, 1, "")
	if !strings.Contains(r.stderr, "has no USDT probe ebtrace:tock") || !strings.Contains(r.stderr, "hint: did you mean ebtrace:tick") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// Debian's python3 has USDT probes; function__entry is semaphore-guarded
// and names the function in arg1.
func TestUSDTPython(t *testing.T) {
	const python = "/usr/bin/python3"
	f, err := elf.Open(python)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is not installed", python)
	}
	if err != nil {
		t.Fatal(err)
	}
	notes := f.Section(".note.stapsdt")
	f.Close()
	if notes == nil {
		t.Skipf("%s has no .note.stapsdt section: it was built without USDT probes", python)
	}
	r := runCLI(t, "-l", "usdt:"+python+":*")
	if r.code != 0 || !strings.Contains(r.stdout, "usdt:"+python+":python:function__entry\n") {
		t.Fatalf("%s has USDT notes, but ebtrace lists no function__entry probe (exit %d): %s", python, r.code, r.stderr)
	}
	// CPython 3.11 fires function__entry when it starts or resumes a frame
	// outside its inlined calls: each next() of a new generator.
	script := "def ebtrace_probe_target():\n    yield 1\n\nfor i in range(5):\n    next(ebtrace_probe_target())\n"
	dir := t.TempDir()
	path := dir + "/gen.py"
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "-e", `usdt:`+python+`:python:function__entry /str(arg1) == "ebtrace_probe_target"/ { @[str(arg0)] = count(); }`,
		"-c", python+" -I -S "+path)
	r.want(t, 0, "\n\n@["+path+"]: 5\n")
}
