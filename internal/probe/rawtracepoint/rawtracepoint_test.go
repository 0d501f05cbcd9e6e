package rawtracepoint

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/types"
)

// fakeBTF builds a kernel BTF with the types the kernel declares for a few
// tracepoints: the unnamed btf_trace_ typedef and, except for "anonymous",
// the __traceiter_ function naming the arguments.
func fakeBTF(t testing.TB) *btf.Spec {
	t.Helper()
	void := &btf.Void{}
	intT := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	long := &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	uint := &btf.Int{Name: "unsigned int", Size: 4}
	boolT := &btf.Typedef{Name: "bool", Type: &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}}
	pidT := &btf.Typedef{Name: "pid_t", Type: intT}
	task := &btf.Pointer{Target: &btf.Struct{Name: "task_struct", Size: 8}}
	regs := &btf.Pointer{Target: &btf.Struct{Name: "pt_regs", Size: 8}}
	state := &btf.Union{Name: "state", Size: 4, Members: []btf.Member{{Name: "v", Type: intT}}}
	mode := &btf.Enum{Name: "mode", Size: 4, Signed: true}
	userChars := &btf.Pointer{Target: &btf.TypeTag{Value: "user", Type: &btf.Const{Type: char}}}
	callback := &btf.Pointer{Target: &btf.FuncProto{Return: intT}}

	var all []btf.Type
	tracepoint := func(name string, named bool, params ...btf.FuncParam) {
		data := btf.FuncParam{Type: &btf.Pointer{Target: void}}
		unnamed := []btf.FuncParam{data}
		for _, p := range params {
			unnamed = append(unnamed, btf.FuncParam{Type: p.Type})
		}
		all = append(all, &btf.Typedef{Name: "btf_trace_" + name, Type: &btf.Pointer{Target: &btf.FuncProto{Return: void, Params: unnamed}}})
		if named {
			data.Name = "__data"
			all = append(all, &btf.Func{Name: "__traceiter_" + name, Linkage: btf.GlobalFunc,
				Type: &btf.FuncProto{Return: intT, Params: append([]btf.FuncParam{data}, params...)}})
		}
	}
	tracepoint("sched_switch", true, btf.FuncParam{Name: "preempt", Type: boolT}, btf.FuncParam{Name: "prev", Type: task},
		btf.FuncParam{Name: "next", Type: task}, btf.FuncParam{Name: "prev_state", Type: uint})
	tracepoint("sched_process_exec", true, btf.FuncParam{Name: "p", Type: task}, btf.FuncParam{Name: "old_pid", Type: pidT},
		btf.FuncParam{Name: "bprm", Type: &btf.Pointer{Target: &btf.Struct{Name: "linux_binprm", Size: 8}}})
	tracepoint("sys_enter", true, btf.FuncParam{Name: "regs", Type: regs}, btf.FuncParam{Name: "id", Type: long})
	tracepoint("odd_types", true, btf.FuncParam{Name: "st", Type: state}, btf.FuncParam{Name: "m", Type: mode},
		btf.FuncParam{Name: "buf", Type: userChars}, btf.FuncParam{Name: "fn", Type: callback},
		btf.FuncParam{Name: "pp", Type: &btf.Pointer{Target: &btf.Pointer{Target: char}}},
		btf.FuncParam{Name: "wide", Type: &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}})
	tracepoint("anonymous", false, btf.FuncParam{Name: "x", Type: long})
	b, err := btf.NewBuilder(all, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func withBTF(spec *btf.Spec) Provider {
	return Provider{KernelBTF: func() (*btf.Spec, error) { return spec, nil }}
}

var withoutBTF = Provider{KernelBTF: func() (*btf.Spec, error) {
	return nil, fmt.Errorf("no vmlinux: %w", ebpf.ErrNotSupported)
}}

// fakeEnv's tracefs has the events sched:sched_process_exec,
// sched:sched_switch, raw_syscalls:sys_enter, task:task_rename and some
// syscalls:*.
func fakeEnv() *probe.Env {
	ev := kerneltest.Fake()
	return &probe.Env{Events: func() (*kernel.Events, error) { return ev, nil }}
}

func expandOne(t *testing.T, p Provider, spec string) *instance {
	t.Helper()
	ins, err := p.Expand(spec, fakeEnv())
	if err != nil {
		t.Fatalf("Expand(%q): %v", spec, err)
	}
	if len(ins) != 1 {
		t.Fatalf("Expand(%q) gave %d instances", spec, len(ins))
	}
	return ins[0].(*instance)
}

func TestTypedArgs(t *testing.T) {
	p := withBTF(fakeBTF(t))
	in := expandOne(t, p, "sched_switch")
	if got, want := in.Program(), (probe.Program{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "sched_switch"}); got != want {
		t.Errorf("Program() = %+v, want %+v", got, want)
	}
	if in.Name() != "rawtracepoint:sched_switch" {
		t.Errorf("Name() = %q", in.Name())
	}
	for _, c := range []struct {
		name    string
		typ     types.Type
		offset  int
		pointer bool
	}{
		{"preempt", types.IntOf(1, false), 0, false},
		{"prev", types.Pointer("struct task_struct", types.Kernel), 8, true},
		{"next", types.Pointer("struct task_struct", types.Kernel), 16, true},
		{"prev_state", types.IntOf(4, false), 24, false},
	} {
		a, err := in.Arg(c.name)
		if err != nil {
			t.Errorf("Arg(%q): %v", c.name, err)
			continue
		}
		if a.Type != c.typ || a.Offset != c.offset || (a.Load != nil) != c.pointer {
			t.Errorf("Arg(%q) = %v at %d (load %v), want %v at %d (load %v)", c.name, a.Type, a.Offset, a.Load != nil, c.typ, c.offset, c.pointer)
		}
	}
	pid, err := expandOne(t, p, "sched_process_exec").Arg("old_pid")
	if err != nil || pid.Type != types.IntOf(4, true) || pid.Offset != 8 {
		t.Errorf("old_pid: %v %v", pid.Type, err)
	}
	odd := expandOne(t, p, "odd_types")
	m, err := odd.Arg("m")
	if err != nil || m.Type != types.IntOf(4, true) {
		t.Errorf("enum: %v %v", m.Type, err)
	}
	buf, err := odd.Arg("buf")
	if err != nil || buf.Type != types.Pointer("char", types.User) {
		t.Errorf("__user const char *: %v %v", buf.Type, err)
	}
	for _, name := range []string{"fn", "pp"} {
		if a, err := odd.Arg(name); err != nil || a.Type.Kind != types.Ptr || a.Load == nil {
			t.Errorf("Arg(%q) = %v, %v; want a pointer read through probe_read", name, a.Type, err)
		}
	}
}

func TestArgErrors(t *testing.T) {
	p := withBTF(fakeBTF(t))
	for _, c := range []struct{ tp, arg, msg, hint string }{
		{"sched_switch", "prv", `rawtracepoint:sched_switch has no argument "prv"`, "did you mean prev?"},
		{"odd_types", "st", "argument st of rawtracepoint:odd_types is a union state passed by value, which ebtrace cannot read", "its raw bits are arg0"},
		{"odd_types", "wide", "argument wide of rawtracepoint:odd_types has type __int128, which ebtrace cannot read", ""},
		{"anonymous", "x", "the kernel's BTF gives the types of rawtracepoint:anonymous's arguments but not their names", "read them as arg0"},
	} {
		_, err := expandOne(t, p, c.tp).Arg(c.arg)
		var pe *probe.Error
		if !errors.As(err, &pe) {
			t.Errorf("%s args.%s: %v, want *probe.Error", c.tp, c.arg, err)
			continue
		}
		if pe.Msg != c.msg || c.hint != "" && (len(pe.Hints) == 0 || !strings.HasPrefix(pe.Hints[0], c.hint)) {
			t.Errorf("%s args.%s: %q %q, want %q %q", c.tp, c.arg, pe.Msg, pe.Hints, c.msg, c.hint)
		}
	}
}

func TestBuiltins(t *testing.T) {
	typed := expandOne(t, withBTF(fakeBTF(t)), "sys_enter")
	raw := expandOne(t, withoutBTF, "sys_enter")
	for _, c := range []struct {
		in      *instance
		name    string
		ok      bool
		offset  int
		pointer bool
	}{
		{typed, "arg0", true, 0, true},
		{typed, "arg1", true, 8, false},
		{typed, "arg2", false, 0, false},
		{raw, "arg0", true, 0, false},
		{raw, "arg11", true, 88, false},
		{raw, "arg12", false, 0, false},
		{raw, "arg01", false, 0, false},
		{raw, "arg-1", false, 0, false},
		{raw, "args", false, 0, false},
		{raw, "retval", false, 0, false},
	} {
		a, ok := c.in.Builtin(c.name)
		if ok != c.ok || ok && (a.Type != types.UInt64 || a.Offset != c.offset || (a.Load != nil) != c.pointer) {
			t.Errorf("%s %s: %v %v at %d (load %v), want %v at %d (load %v)", c.in.Program().Type, c.name, ok, a.Type, a.Offset, a.Load != nil, c.ok, c.offset, c.pointer)
		}
	}
}

func TestWithoutBTF(t *testing.T) {
	in := expandOne(t, withoutBTF, "sched_switch")
	if got := in.Program(); got != (probe.Program{Type: ebpf.RawTracepoint}) {
		t.Errorf("Program() = %+v", got)
	}
	_, err := in.Arg("prev")
	var pe *probe.Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "needs BTF") || !strings.Contains(pe.Msg, "the kernel has no BTF") {
		t.Errorf("Arg without BTF: %v", err)
	}
	// A tracepoint BTF does not describe (as a module's) is attached raw.
	in = expandOne(t, withBTF(fakeBTF(t)), "task_rename")
	if in.sig != nil || in.Program().Type != ebpf.RawTracepoint {
		t.Errorf("task_rename: %+v", in.Program())
	}
	if _, err := in.Arg("comm"); !errors.As(err, &pe) || !strings.Contains(pe.Msg, "does not describe it") {
		t.Errorf("task_rename args.comm: %v, want a *probe.Error saying BTF does not describe it", err)
	}
}

func TestExpandErrors(t *testing.T) {
	for _, p := range []Provider{withBTF(fakeBTF(t)), withoutBTF} {
		for _, c := range []struct{ spec, msg, hint string }{
			{"sched_swich", "rawtracepoint:sched_swich does not exist on this kernel", "did you mean rawtracepoint:sched_switch"},
			{"sys_enter_openat", "rawtracepoint:sys_enter_openat does not exist on this kernel", "syscalls:* events are not raw tracepoints"},
			{"sched:sched_switch", `rawtracepoint "sched:sched_switch" must be a tracepoint name alone, as in rawtracepoint:sched_switch`, "raw tracepoints are named without a category or module: did you mean rawtracepoint:sched_switch?"},
			{"", `rawtracepoint "" is not a tracepoint name`, "names are C identifiers"},
			{"sched-switch", `rawtracepoint "sched-switch" is not a tracepoint name`, ""},
			{"nothing_*", "rawtracepoint:nothing_* matches no raw tracepoint", "list raw tracepoints with"},
			{"sched_[ps", `rawtracepoint:sched_[ps: bad wildcard pattern sched_[ps: its [ at byte 6 has no closing ] (write \[ for a literal [)`, "wildcards are"},
			{`sched\-*`, `rawtracepoint "sched\\-*" is not a tracepoint name`, ""},
		} {
			_, err := p.Expand(c.spec, fakeEnv())
			var pe *probe.Error
			if !errors.As(err, &pe) {
				t.Errorf("Expand(%q) = %v, want *probe.Error", c.spec, err)
				continue
			}
			if pe.Msg != c.msg || c.hint != "" && (len(pe.Hints) == 0 || !strings.HasPrefix(pe.Hints[0], c.hint)) {
				t.Errorf("Expand(%q): %q %q, want %q %q", c.spec, pe.Msg, pe.Hints, c.msg, c.hint)
			}
		}
	}
}

func TestWildcards(t *testing.T) {
	ins, err := withBTF(fakeBTF(t)).Expand("*_*e*", fakeEnv())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		got = append(got, fmt.Sprintf("%s %s", in.Name(), in.Program().Type))
	}
	// task_rename is only in tracefs, odd_types only in BTF, the others in
	// both; syscalls:sys_enter_* are not tracepoints.
	want := []string{
		"rawtracepoint:odd_types Tracing",
		"rawtracepoint:sched_process_exec Tracing",
		"rawtracepoint:sys_enter Tracing",
		"rawtracepoint:task_rename RawTracepoint",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ins, err = withBTF(fakeBTF(t)).Expand(`sched_[!p]*\h`, fakeEnv())
	if err != nil || len(ins) != 1 || ins[0].Name() != "rawtracepoint:sched_switch" {
		t.Errorf("sched_[!p]*\\h: %v, %v; want rawtracepoint:sched_switch", ins, err)
	}
}

func TestListVerbose(t *testing.T) {
	reg := probe.NewRegistry(withBTF(fakeBTF(t)))
	var out bytes.Buffer
	if err := reg.List(fakeEnv(), "rt:*_*", true, &out); err != nil {
		t.Fatal(err)
	}
	want := `rawtracepoint:odd_types
    union state st
    enum mode m
    const char * buf
    int (*)(void) fn
    char ** pp
    __int128 wide
rawtracepoint:sched_process_exec
    struct task_struct * p
    pid_t old_pid
    struct linux_binprm * bprm
rawtracepoint:sched_switch
    bool preempt
    struct task_struct * prev
    struct task_struct * next
    unsigned int prev_state
rawtracepoint:sys_enter
    struct pt_regs * regs
    long int id
rawtracepoint:task_rename
`
	if out.String() != want {
		t.Errorf("-lv:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if err := reg.List(fakeEnv(), "rawtracepoint:anonymous", true, &out); err != nil {
		t.Fatal(err)
	}
	if want := "rawtracepoint:anonymous\n    long int\n"; out.String() != want {
		t.Errorf("-lv unnamed:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestListWithoutBTF(t *testing.T) {
	var out bytes.Buffer
	if err := probe.NewRegistry(withoutBTF).List(fakeEnv(), "rawtracepoint:s*", true, &out); err != nil {
		t.Fatal(err)
	}
	if want := "rawtracepoint:sched_process_exec\nrawtracepoint:sched_switch\nrawtracepoint:sys_enter\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"sched_switch", "sched_*", "*", "?", "a:b", "sys_enter", "x-y", "", "sched:sched_switch:", "odd_types", "anonymous"} {
		f.Add(s)
	}
	spec := fakeBTF(f)
	env := fakeEnv()
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []Provider{withBTF(spec), withoutBTF} {
			ins, err := p.Expand(s, env)
			var pe *probe.Error
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("Expand(%q): %v is not a *probe.Error", s, err)
			}
			for _, in := range ins {
				if !glob.Match("rawtracepoint:"+s, in.Name()) {
					t.Errorf("Expand(%q) gave %s", s, in.Name())
				}
				for _, name := range []string{"arg0", "arg11", s} {
					in.Builtin(name)
					in.Arg(name)
				}
			}
		}
	})
}
