package fentry

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/special"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// kindOf classes a parameter by how its loads reach the verifier.
func kindOf(t btf.Type) string {
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		if u.Size > 8 {
			return "wide int"
		}
		return "int"
	case *btf.Enum:
		return "enum"
	case *btf.Struct, *btf.Union:
		return "struct by value"
	case *btf.Pointer:
		switch btf.UnderlyingType(u.Target).(type) {
		case *btf.Int, *btf.Void:
			return "pointer to int or void"
		case *btf.Struct, *btf.Union:
			return "pointer to struct"
		}
		return "other pointer"
	}
	return "other"
}

// load emits what codegen emits for a: r0 = the argument.
func load(a probe.Arg) asm.Instructions {
	if a.Load != nil {
		return a.Load(-8)
	}
	size := map[int]asm.Size{1: asm.Byte, 2: asm.Half, 4: asm.Word, 8: asm.DWord}[a.Type.Size]
	return asm.Instructions{asm.LoadMem(asm.R0, asm.R6, int16(a.Offset), size)}
}

// argLoads reads every parameter by name and every slot as argN.
func argLoads(fp *btf.FuncProto) asm.Instructions {
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	params, slots := layout(fp)
	for _, p := range params {
		if a, err := argOf(p.Type, p.Slot, p.Name); err == nil {
			insns = append(insns, load(a)...)
		}
	}
	for n := range slots {
		insns = append(insns, load(slotArg(params, n))...)
	}
	return append(insns, asm.Mov.Imm(asm.R0, 0), asm.Return())
}

// BTF raw tracepoints (tp_btf) see their arguments through the same
// context checks as fentry and fexit (btf_ctx_access), and unlike them
// load on this kernel. For each kind of parameter, a raw tracepoint that
// has one gets a program reading every parameter by name and every slot
// as argN, and the verifier must accept it.
func TestVerifierAcceptsArgLoads(t *testing.T) {
	testutil.RequireRoot(t)
	requireBTF(t)
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]string{}
	for typ, err := range spec.All() {
		if err != nil {
			t.Fatal(err)
		}
		td, ok := typ.(*btf.Typedef)
		if !ok || !strings.HasPrefix(td.Name, "btf_trace_") {
			continue
		}
		ptr, ok := td.Type.(*btf.Pointer)
		if !ok {
			continue
		}
		fp, ok := ptr.Target.(*btf.FuncProto)
		if !ok || len(fp.Params) < 2 {
			continue
		}
		// The first parameter is the tracepoint's private data, which
		// the program does not see.
		args := &btf.FuncProto{Return: fp.Return, Params: fp.Params[1:]}
		fresh := false
		for _, p := range args.Params {
			if _, seen := covered[kindOf(p.Type)]; !seen {
				fresh = true
			}
		}
		if !fresh || unsupported(args) != "" {
			continue
		}
		tp := strings.TrimPrefix(td.Name, "btf_trace_")
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: tp,
			License: "GPL", Instructions: argLoads(args),
		})
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("tp_btf programs do not load here: %v", err)
		}
		if err != nil {
			var ve *ebpf.VerifierError
			if errors.As(err, &ve) {
				t.Log(strings.Join(ve.Log, "\n"))
			}
			t.Fatalf("tp_btf/%s %v: %v", tp, args, err)
		}
		prog.Close()
		for _, p := range args.Params {
			if _, seen := covered[kindOf(p.Type)]; !seen {
				covered[kindOf(p.Type)] = tp
			}
		}
	}
	t.Logf("kinds and the raw tracepoint that tried each: %v", covered)
	// Every kernel has tracepoints with these (sched_switch, initcall_start).
	for _, kind := range []string{"int", "pointer to struct", "other pointer"} {
		if _, ok := covered[kind]; !ok {
			t.Errorf("no raw tracepoint has a parameter of kind %q", kind)
		}
	}
}

// A script using fentry and fexit compiles to programs the kernel accepts
// when it has BPF trampolines; where it refuses them (as under lockdown),
// the test skips with Available's reason.
func TestVerifierAcceptsFentry(t *testing.T) {
	testutil.RequireRoot(t)
	requireBTF(t)
	reg := probe.NewRegistry(special.Begin, special.End, Entry, Exit)
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	res, err := compile.Compile(source.NewFile("test.bt", `
fentry:vfs_read { @[comm] = count(); printf("%d %d %p\n", args.count, arg2, args.file); @b = hist(args.count); }
kfunc:vfs_write /args.count > 0/ { @w[func, probe] = sum(arg0 + arg1 + arg2 + arg3); printf("%s %p\n", str(args.buf), args.pos); }
fexit:vfs_read, kretfunc:vfs_write { @ret[func] = hist(retval); @n = retval < 0 ? 1 : 0; @c[args.count] = count(); }
`), reg, env, compile.Options{Plan: plan.DefaultOptions})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Programs); n != 4 {
		t.Fatalf("%d programs, want 4", n)
	}
	coll, err := ebpf.NewCollection(res.Spec())
	if err != nil {
		// Skip only for the refusal Available explains (lockdown's EPERM,
		// or no trampolines at all), not for a verifier rejection.
		why := res.Programs[0].Instance.Instance.Available()
		if errors.Is(why, ebpf.ErrNotSupported) && (errors.Is(err, os.ErrPermission) || errors.Is(err, ebpf.ErrNotSupported)) {
			t.Skipf("%v (loading: %v)", why, err)
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Log(strings.Join(ve.Log, "\n"))
		}
		t.Fatal(err)
	}
	coll.Close()
}

func TestSlotArg(t *testing.T) {
	params, slots := layout(proto(i32, &btf.Pointer{Target: file}, pair, i32))
	var got []string
	for n := range slots {
		a := slotArg(params, n)
		got = append(got, fmt.Sprintf("%d:%v", a.Offset, a.Load != nil))
	}
	// The pointer is copied; the struct's two slots and the int load.
	if want := []string{"0:true", "8:false", "16:false", "24:false"}; !slices.Equal(got, want) {
		t.Errorf("slots %q, want %q", got, want)
	}
}

// tpBTF is a test probe type: a BTF raw tracepoint whose arguments are
// fentry's instance, so whole scripts using typed kernel pointers reach the
// verifier through codegen on kernels that refuse trampolines.
type tpBTF struct{}

func (tpBTF) Names() []string { return []string{"tpbtf"} }

func (tpBTF) Probes(string, *probe.Env) ([]probe.Listing, error) { return nil, nil }

func (tpBTF) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	kspec, err := kernel.BTF.Kernel()
	if err != nil {
		return nil, err
	}
	var td *btf.Typedef
	if err := kspec.TypeByName("btf_trace_"+spec, &td); err != nil {
		return nil, err
	}
	fp := td.Type.(*btf.Pointer).Target.(*btf.FuncProto)
	args := &btf.FuncProto{Return: &btf.Void{}, Params: slices.Clone(fp.Params[1:])}
	// The typedef's parameters have no names: number them.
	for i := range args.Params {
		args.Params[i].Name = fmt.Sprint("p", i)
	}
	params, slots := layout(args)
	return []probe.Instance{rawTracepoint{&instance{name: "tpbtf:" + spec, fn: spec, proto: args, params: params, retSlot: slots}}}, nil
}

type rawTracepoint struct{ *instance }

func (r rawTracepoint) Program() probe.Program {
	return probe.Program{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: r.fn}
}

// sched_switch(bool preempt, struct task_struct *prev, struct task_struct
// *next, unsigned int prev_state, ...), here p0..p3: kernel pointers go
// into map keys, values, printf, comparisons and arithmetic.
func TestVerifierAcceptsTypedPointers(t *testing.T) {
	testutil.RequireRoot(t)
	requireBTF(t)
	reg := probe.NewRegistry(special.Begin, special.End, tpBTF{})
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	res, err := compile.Compile(source.NewFile("test.bt", `
tpbtf:sched_switch {
	@[args.p2] = count(); printf("%p %d %d %s\n", args.p1, args.p3, args.p0, func);
	@s = sum(arg0 + arg1 + arg3); @p = args.p1 + 8; @z = args.p1 == 0 ? 1 : 0;
	if (args.p2 != args.p1) { @h = hist(args.p3); }
	@m = args.p1 * 2; @a = args.p1 & 0xfff; @sh = args.p1 >> 3; @neg = -args.p1;
}
`), reg, env, compile.Options{Plan: plan.DefaultOptions})
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(res.Spec())
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("tp_btf programs do not load here: %v", err)
	}
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Log(strings.Join(ve.Log, "\n"))
		}
		t.Fatal(err)
	}
	coll.Close()
}
