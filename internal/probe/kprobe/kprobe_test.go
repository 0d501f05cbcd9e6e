package kprobe

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/arch"
	"github.com/ebtrace/ebtrace/internal/types"
)

// fakeKallsyms is a small kernel: entry text that cannot be probed, a
// padding symbol, a cold part, two static functions sharing a name, and
// two modules.
const fakeKallsyms = `ffffffff81000000 T _stext
ffffffff81000010 T __entry_text_start
ffffffff81000020 T entry_SYSCALL_64
ffffffff81000100 T __entry_text_end
ffffffff81001000 t __pfx_vfs_read
ffffffff81001010 T vfs_read
ffffffff81001100 T vfs_readv
ffffffff81001200 T vfs_write
ffffffff81001300 t vfs_write.cold
ffffffff81001400 T __x64_sys_getppid
ffffffff81002000 T ksys_read
ffffffff81003000 t dup_static
ffffffff81003100 t dup_static
ffffffff81004000 D some_data
ffffffffc0001000 t ext4_file_open	[ext4]
ffffffffc0001100 t ext4_read	[ext4]
ffffffffc0002000 t xfs_file_open	[xfs]
`

func fakeEnv(t *testing.T) *probe.Env {
	t.Helper()
	syms, err := kernel.ParseKallsyms(strings.NewReader(fakeKallsyms))
	if err != nil {
		t.Fatal(err)
	}
	return &probe.Env{Kallsyms: func() ([]kernel.KernelSymbol, error) { return syms, nil }}
}

// names lists the instances' names, a group's members in its place.
func names(ins []probe.Instance) []string {
	var out []string
	for _, in := range ins {
		if g, ok := in.(probe.Group); ok {
			out = append(out, names(g.Split())...)
			continue
		}
		out = append(out, in.Name())
	}
	return out
}

// TestWildcardGroup checks a wildcard matching several functions is one
// instance, one program, whose func is found at run time.
func TestWildcardGroup(t *testing.T) {
	ins, err := Kretprobe.Expand("vfs_*", fakeEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name() != "kretprobe:vfs_*" {
		t.Fatalf("kretprobe:vfs_* expands to %q, want one group", names(ins))
	}
	g, ok := ins[0].(probe.Group)
	if !ok {
		t.Fatalf("kretprobe:vfs_* is a %T, not a probe.Group", ins[0])
	}
	if len(g.Split()) != 3 {
		t.Errorf("the group has %d members, want 3", len(g.Split()))
	}
	fn, ok := g.Builtin("func")
	if !ok || fn.Type != types.Symbol(types.Kernel) || fn.Load == nil {
		t.Errorf("func of a group is %+v, want a kernel symbol loaded at run time", fn)
	}
	if _, ok := g.Builtin("retval"); !ok {
		t.Error("a kretprobe group has no retval")
	}
}

func TestExpand(t *testing.T) {
	env := fakeEnv(t)
	for _, c := range []struct {
		p     Provider
		spec  string
		names []string
	}{
		{Kprobe, "vfs_read", []string{"kprobe:vfs_read"}},
		{Kretprobe, "vfs_read", []string{"kretprobe:vfs_read"}},
		{Kprobe, "vfs_*", []string{"kprobe:vfs_read", "kprobe:vfs_readv", "kprobe:vfs_write"}},
		{Kprobe, "vfs_rea?", []string{"kprobe:vfs_read"}},
		{Kprobe, "ext4:*", []string{"kprobe:ext4:ext4_file_open", "kprobe:ext4:ext4_read"}},
		{Kprobe, "*:*_file_open", []string{"kprobe:ext4:ext4_file_open", "kprobe:xfs:xfs_file_open"}},
		{Kprobe, "vm*:vfs_read", []string{"kprobe:vmlinux:vfs_read"}},
		{Kprobe, "*_file_open", []string{"kprobe:ext4_file_open", "kprobe:xfs_file_open"}},
		{Kprobe, "vmlinux:vfs_read", []string{"kprobe:vmlinux:vfs_read"}},
		{Kprobe, "vmlinux:*_read", []string{"kprobe:vmlinux:ksys_read", "kprobe:vmlinux:vfs_read"}},
		{Kprobe, "ext4:ext4_read", []string{"kprobe:ext4:ext4_read"}},
		{Kprobe, "vfs_read+16", []string{"kprobe:vfs_read+16"}},
		{Kprobe, "vfs_read+0x10", []string{"kprobe:vfs_read+0x10"}},
		{Kprobe, "dup_static", []string{"kprobe:dup_static"}},
		{Kprobe, "dup_stat*", []string{"kprobe:dup_static"}},
		{Kprobe, "vfs_[rw]*[!v]", []string{"kprobe:vfs_read", "kprobe:vfs_write"}},
		{Kprobe, "[!v]*:*_[!r]*", []string{"kprobe:ext4:ext4_file_open", "kprobe:xfs:xfs_file_open"}},
		{Kprobe, `vfs\_read`, []string{"kprobe:vfs_read"}},
	} {
		ins, err := c.p.Expand(c.spec, env)
		if err != nil {
			t.Errorf("%s:%s: %v", c.p.names[0], c.spec, err)
			continue
		}
		if got := names(ins); !slices.Equal(got, c.names) {
			t.Errorf("%s:%s expands to %q, want %q", c.p.names[0], c.spec, got, c.names)
		}
	}
}

func TestExpandOffset(t *testing.T) {
	env := fakeEnv(t)
	for spec, want := range map[string]uint64{"vfs_read+16": 16, "vfs_read+0x10": 16, "vfs_read+0": 0, "vfs_read+239": 239} {
		ins, err := Kprobe.Expand(spec, env)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if got := ins[0].(*instance).offset; got != want || ins[0].(*instance).fn != "vfs_read" {
			t.Errorf("%s: offset %d in %s, want %d in vfs_read", spec, got, ins[0].(*instance).fn, want)
		}
	}
}

// withSupport makes Available answer err for the rest of the test, as a
// kernel with kprobes (nil) or without them would.
func withSupport(t *testing.T, err error) {
	saved := support
	support = func() error { return err }
	t.Cleanup(func() { support = saved })
}

func TestExpandErrors(t *testing.T) {
	env := fakeEnv(t)
	withSupport(t, nil) // the errors of a kernel with kprobes
	for _, c := range []struct {
		p         Provider
		spec      string
		msg, hint string
	}{
		{Kprobe, "", "names no function", "for example"},
		{Kprobe, "a:b:c", "too many parts", ""},
		{Kprobe, "vfs read", `"vfs read" is not a kernel function name`, ""},
		{Kprobe, "ex/t4:vfs_read", "is not a module name", ""},
		{Kprobe, "+5", "names no function", ""},
		{Kprobe, "vfs_read+x", `offset "x" is not a number`, ""},
		{Kprobe, "vfs_read+", `offset "" is not a number`, ""},
		{Kretprobe, "vfs_read+8", "offsets apply to kprobe only", ""},
		{Kprobe, "vfs_*+8", "an offset needs one function", ""},
		{Kprobe, "vfs_read+240", "offset 240 is past the end of vfs_read, which is 240 bytes long", ""},
		{Kprobe, "vfs_raed", "no kernel function vfs_raed", "did you mean vfs_read"},
		{Kprobe, "ext4:vfs_read", "no kernel function vfs_read in module ext4", "vfs_read is in another module"},
		{Kprobe, "nosuch_*", "matches no kernel function", "ebtrace -l 'kprobe:*'"},
		{Kprobe, "entry_SYSCALL_64", "does not allow kprobes on entry_SYSCALL_64", ""},
		{Kprobe, "vfs_write.cold", "does not allow kprobes", ""},
		{Kprobe, "entry_*", "matches no kernel function", ""},
		{Kprobe, "some_data", "no kernel function some_data", ""},
		{Kprobe, "__pfx_vfs_read", "no kernel function __pfx_vfs_read", ""},
		{Kprobe, "vfs_[rw", "kprobe:vfs_[rw: bad wildcard pattern vfs_[rw: its [ at byte 4 has no closing ]", "wildcards are"},
		{Kprobe, "ext[4:vfs_read", "bad wildcard pattern ext[4: its [ at byte 3 has no closing ]", ""},
		{Kprobe, `vfs\-read`, `"vfs\\-read" is not a kernel function name`, ""},
	} {
		_, err := c.p.Expand(c.spec, env)
		var pe *probe.Error
		if !errors.As(err, &pe) {
			t.Errorf("%s:%s: got %v, want a *probe.Error", c.p.names[0], c.spec, err)
			continue
		}
		if !strings.Contains(pe.Msg, c.msg) || !strings.Contains(strings.Join(pe.Hints, "\n"), c.hint) {
			t.Errorf("%s:%s: got %q %q, want %q with hint %q", c.p.names[0], c.spec, pe.Msg, pe.Hints, c.msg, c.hint)
		}
	}
}

// Without kprobes, an attach point naming no function says first that the
// kernel has no kprobes, with a tracepoint of the same event where the
// kernel has one.
func TestMissingFunctionFirst(t *testing.T) {
	env := fakeEnv(t)
	env.Events = func() (*kernel.Events, error) { return kerneltest.Fake(), nil }
	withSupport(t, &probe.Unavailable{Reason: "this kernel has no kprobes (CONFIG_KPROBES is off)"})
	for spec, want := range map[string]string{
		"vfs_raed":           "kprobe:vfs_raed: this kernel has no kprobes (CONFIG_KPROBES is off); use a tracepoint or raw tracepoint instead (list them with: ebtrace -l 'tracepoint:*')",
		"nosuch_*":           "kprobe:nosuch_*: this kernel has no kprobes (CONFIG_KPROBES is off); use a tracepoint or raw tracepoint instead (list them with: ebtrace -l 'tracepoint:*')",
		"ksys_getppid":       "kprobe:ksys_getppid: this kernel has no kprobes (CONFIG_KPROBES is off); trace tracepoint:syscalls:sys_enter_getppid instead",
		"finish_task_switch": "kprobe:finish_task_switch: this kernel has no kprobes (CONFIG_KPROBES is off); trace tracepoint:sched:sched_switch, which marks the same event, instead",
	} {
		_, err := Kprobe.Expand(spec, env)
		var u *probe.Unavailable
		if !errors.As(err, &u) || err.Error() != want {
			t.Errorf("%s: got %v\nwant the *probe.Unavailable %s", spec, err, want)
		}
	}
	// Mistakes in the spec itself are still reported as such.
	if _, err := Kprobe.Expand("vfs read", env); !strings.Contains(fmt.Sprint(err), "is not a kernel function name") {
		t.Errorf("vfs read: %v", err)
	}
}

// Round trip: whatever parses prints back as the spec it came from, and
// nothing panics.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"vfs_read", "ext4:ext4_file_open", "vfs_read+0x10", "vfs_*", "a:b:c", "+", "x+99999999999999999999", ":", "m:f+1", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		for _, kind := range []string{"kprobe", "kretprobe", "fentry"} {
			tg, err := ParseTarget(kind, spec)
			if err != nil {
				if _, ok := err.(*probe.Error); !ok {
					t.Fatalf("%q: error %T is not a *probe.Error", spec, err)
				}
				continue
			}
			back := tg.Func
			if tg.Module != "" || strings.HasPrefix(spec, ":") {
				back = tg.Module + ":" + back
			}
			if tg.OffsetText != "" {
				back += "+" + tg.OffsetText
			}
			if back != spec || tg.Func == "" || (kind != "kprobe" && tg.OffsetText != "") {
				t.Fatalf("%s:%q parsed to %+v", kind, spec, tg)
			}
		}
	})
}

func TestBuiltins(t *testing.T) {
	regs, err := arch.Host()
	if err != nil {
		t.Skip(err)
	}
	env := fakeEnv(t)
	ins, _ := Kprobe.Expand("vfs_read", env)
	k := ins[0]
	if k.Program().Type != ebpf.Kprobe || k.Kind() != probe.Event {
		t.Errorf("program %+v kind %v", k.Program(), k.Kind())
	}
	for i, off := range regs.Args {
		a, ok := k.Builtin("arg" + string(rune('0'+i)))
		if !ok || a.Offset != off || a.Type != types.UInt64 || a.Load != nil {
			t.Errorf("arg%d = %+v, %v; want uint64 at %d", i, a, ok, off)
		}
	}
	for _, name := range []string{"arg" + string(rune('0'+len(regs.Args))), "retval", "arg01", "argx", "comm"} {
		if _, ok := k.Builtin(name); ok {
			t.Errorf("kprobe defines %s", name)
		}
	}
	checkFunc(t, k, "vfs_read")
	var pe *probe.Error
	if _, err := k.Arg("count"); !errors.As(err, &pe) || !strings.Contains(strings.Join(pe.Hints, " "), "fentry:vfs_read") {
		t.Errorf("args.count: %v", err)
	}

	ins, _ = Kretprobe.Expand("vfs_read", env)
	r := ins[0]
	if a, ok := r.Builtin("retval"); !ok || a.Offset != regs.Ret || a.Type != types.UInt64 {
		t.Errorf("retval = %+v, %v; want uint64 at %d", a, ok, regs.Ret)
	}
	if _, ok := r.Builtin("arg0"); ok {
		t.Error("kretprobe defines arg0")
	}
	checkFunc(t, r, "vfs_read")

	ins, _ = Kprobe.Expand("ext4:ext4_read", env)
	checkFunc(t, ins[0], "ext4_read")
}

// checkFunc checks in's func: the symbol of the address bpf_get_func_ip
// finds where kprobes may call it (a wildcard's members give the same, so
// one map keys on both), else the name as a string.
func checkFunc(t *testing.T, in probe.Instance, name string) {
	t.Helper()
	a, ok := in.Builtin("func")
	switch {
	case !ok:
		t.Errorf("%s has no func", in.Name())
	case haveFuncIP():
		if a.Type != types.Symbol(types.Kernel) || a.Load == nil {
			t.Errorf("func of %s = %+v; want the ksym of bpf_get_func_ip", in.Name(), a)
		}
	case a.Text != name || a.Type != types.String(len(name)+1):
		t.Errorf("func of %s = %+v; want the string %q", in.Name(), a, name)
	}
}

func TestProbes(t *testing.T) {
	env := fakeEnv(t)
	for _, p := range []Provider{Kprobe, Kretprobe} {
		list, err := p.Probes("*", env)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range list {
			got = append(got, l.Name)
			if l.Args != nil {
				t.Errorf("%s lists args", l.Name)
			}
		}
		k := p.names[0] + ":"
		want := []string{k + "__x64_sys_getppid", k + "dup_static", k + "ext4:ext4_file_open", k + "ext4:ext4_read",
			k + "ksys_read", k + "vfs_read", k + "vfs_readv", k + "vfs_write", k + "xfs:xfs_file_open"}
		if !slices.Equal(got, want) {
			t.Errorf("listed\n%q\nwant\n%q", got, want)
		}
	}
}

func TestFilterFunctions(t *testing.T) {
	funcs, err := parseFilterFunctions(strings.NewReader("vfs_read\n__pfx_x\nvfs_read\next4_file_open [ext4]\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []function{{Name: "vfs_read"}, {Name: "vfs_read"}, {Name: "ext4_file_open", Module: "ext4"}}
	if !slices.Equal(funcs, want) {
		t.Fatalf("got %+v", funcs)
	}
	syms, _ := fakeEnv(t).Kallsyms()
	tab := newTable(syms, nil, funcs)
	var got []string
	for _, f := range tab.match("", "*") {
		got = append(got, f.Module+":"+f.Name)
	}
	if !slices.Equal(got, []string{"ext4:ext4_file_open", ":vfs_read"}) {
		t.Errorf("listed %q", got)
	}
	// Exact names still resolve through kallsyms, but the kernel refuses
	// kprobes on those available_filter_functions leaves out.
	if f, ok := tab.lookup("", "vfs_write"); !ok || f.Size != 0x100 {
		t.Errorf("vfs_write: %+v %v", f, ok)
	}
	unfiltered := newTable(syms, nil, nil)
	for name, want := range map[string]bool{"vfs_write": true, "vfs_read": false, "ext4:ext4_file_open": false} {
		module, fn, _ := strings.Cut(name, ":")
		if fn == "" {
			module, fn = "", name
		}
		f, _ := tab.lookup(module, fn)
		if tab.untraceable(f) != want || unfiltered.untraceable(f) {
			t.Errorf("untraceable(%s) is not %v (or is without available_filter_functions)", name, want)
		}
	}
}

func TestBlacklist(t *testing.T) {
	ranges := parseBlacklist(strings.NewReader("0xffffffff81001200-0xffffffff81001300\tvfs_write\n0x0-0x0\thidden\ngarbage\n"))
	if !slices.Equal(ranges, []addrRange{{0xffffffff81001200, 0xffffffff81001300}}) {
		t.Fatalf("got %x", ranges)
	}
	syms, _ := fakeEnv(t).Kallsyms()
	tab := newTable(syms, ranges, nil)
	if f, _ := tab.lookup("", "vfs_write"); !f.Blocked {
		t.Error("blacklisted vfs_write is not blocked")
	}
	if f, _ := tab.lookup("", "vfs_readv"); f.Blocked {
		t.Error("vfs_readv is blocked")
	}
}

func TestRanges(t *testing.T) {
	m := merge([]addrRange{{50, 60}, {10, 20}, {15, 30}, {30, 35}})
	if !slices.Equal(m, []addrRange{{10, 35}, {50, 60}}) {
		t.Fatalf("merge = %v", m)
	}
	for addr, want := range map[uint64]bool{9: false, 10: true, 34: true, 35: false, 49: false, 50: true, 59: true, 60: false} {
		if within(m, addr) != want {
			t.Errorf("within(%d) = %v", addr, !want)
		}
	}
	if within(nil, 5) {
		t.Error("within(nil)")
	}
}

// The running kernel's functions include vfs_read, and nothing listed is
// blocked or padding.
func TestLiveTable(t *testing.T) {
	if euid := os.Geteuid(); euid != 0 {
		t.Skipf("/proc/kallsyms shows zero addresses to non-root users, so no sizes (euid %d)", euid)
	}
	tab, err := tableFor(&probe.Env{})
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no /proc/kallsyms (CONFIG_KALLSYMS is off): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := tab.lookup("", "vfs_read"); !ok || f.Blocked || f.Size == 0 {
		t.Errorf("vfs_read: %+v %v", f, ok)
	}
	for _, f := range tab.listed {
		if f.Blocked || strings.HasPrefix(f.Name, "__pfx_") || strings.Contains(f.Name, ".cold") {
			t.Fatalf("listed %+v", f)
		}
	}
}

func TestSyscallTracepoint(t *testing.T) {
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	events, _ := env.Events()
	if tps, _ := events.Match("syscalls:sys_enter_openat"); len(tps) != 1 {
		t.Fatal("the fake tracefs has no syscalls:sys_enter_openat")
	}
	for _, c := range []struct {
		fn   string
		exit bool
		want string
	}{
		{"__x64_sys_openat", false, "tracepoint:syscalls:sys_enter_openat"},
		{"__arm64_sys_openat", true, "tracepoint:syscalls:sys_exit_openat"},
		{"do_sys_openat", false, "tracepoint:syscalls:sys_enter_openat"},
		{"__x64_sys_nosuch", false, ""},
		{"schedule", false, ""},
		{"sys_", false, ""},
	} {
		if got := SyscallTracepoint(c.fn, c.exit, env); got != c.want {
			t.Errorf("SyscallTracepoint(%s, %v) = %q, want %q", c.fn, c.exit, got, c.want)
		}
	}
	if got := SyscallTracepoint("__x64_sys_openat", false, nil); got != "" {
		t.Errorf("without tracefs: %q", got)
	}
	if got := Instead("__x64_sys_openat", false, env); got != "trace tracepoint:syscalls:sys_enter_openat instead" {
		t.Errorf("Instead = %q", got)
	}
	if got := Instead("schedule", false, env); !strings.Contains(got, "ebtrace -l 'tracepoint:*'") {
		t.Errorf("Instead = %q", got)
	}
}

// On a kernel with kprobes, Available is nil; without, it names the
// missing feature in one sentence that wraps ebpf.ErrNotSupported.
func TestAvailable(t *testing.T) {
	ins, err := Kprobe.Expand("vfs_read", fakeEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	err = ins[0].Available()
	_, statErr := os.Stat("/sys/bus/event_source/devices/kprobe/type")
	if statErr == nil {
		if err != nil {
			t.Fatalf("the kernel has the kprobe PMU, but Available says %v", err)
		}
		return
	}
	if err == nil {
		t.Skip("no kprobe PMU, but tracefs has kprobe_events")
	}
	if !errors.Is(err, ebpf.ErrNotSupported) {
		t.Errorf("%v does not wrap ebpf.ErrNotSupported", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "kprobe:vfs_read: this kernel has no kprobes (CONFIG_KPROBE") || strings.Count(msg, "\n") != 0 ||
		!strings.Contains(msg, "; use a tracepoint or raw tracepoint instead") {
		t.Errorf("message %q", msg)
	}
	t.Log(msg)
}

// TestUntraceableAliases: available_filter_functions names one of the
// symbols at an address; an alias there can be probed, a function at no
// listed address (notrace, or inlined away) cannot.
func TestUntraceableAliases(t *testing.T) {
	syms := []kernel.KernelSymbol{
		{Addr: 0x1000, Type: 'T', Name: "__do_sys_getppid"},
		{Addr: 0x1000, Type: 'T', Name: "__x64_sys_getppid"},
		{Addr: 0x2000, Type: 'T', Name: "blk_account_io_start"},
		{Addr: 0x3000, Type: 'T', Name: "vfs_read"},
	}
	tab := newTable(syms, nil, []function{{Name: "__do_sys_getppid"}, {Name: "vfs_read"}})
	for name, want := range map[string]bool{"__x64_sys_getppid": false, "__do_sys_getppid": false, "blk_account_io_start": true, "vfs_read": false} {
		f, ok := tab.lookup("", name)
		if !ok || tab.untraceable(f) != want {
			t.Errorf("untraceable(%s) = %v, want %v", name, tab.untraceable(f), want)
		}
	}
}
