package codegen_test

import (
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// generateWith compiles the first program of script as --unsafe, and as
// -k when helperErrors is set.
func generateWith(t *testing.T, script string, helperErrors bool) asm.Instructions {
	t.Helper()
	opts := plan.DefaultOptions
	opts.HelperErrors = helperErrors
	return tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(true), script, compile.Options{Plan: opts}).Programs[0].Insns
}

// -k adds a report on the failure path of a map update and of a probe
// read, and nothing without it.
func TestHelperErrorReports(t *testing.T) {
	script := `tracepoint:syscalls:sys_enter_openat { @[pid] = 1; $f = str(args.filename); }`
	if got, want := calls(generateWith(t, script, false)), "FnGetCurrentPidTgid FnMapUpdateElem FnProbeReadUserStr"; got != want {
		t.Errorf("without -k: calls %q, want %q", got, want)
	}
	insns := generateWith(t, script, true)
	want := "FnGetCurrentPidTgid FnMapUpdateElem FnRingbufOutput FnProbeReadUserStr FnRingbufOutput"
	if got := calls(insns); got != want {
		t.Fatalf("with -k: calls %q, want %q", got, want)
	}
	// Each report stores the helper's number in its record, whose
	// header is the HelperError event's ID (0: the only event).
	var helpers []asm.BuiltinFunc
	for i, ins := range insns {
		if ins.OpCode == asm.StoreImmOp(asm.DWord) && ins.Constant == 0 && i+1 < len(insns) {
			next := insns[i+1]
			if next.OpCode == asm.StoreImmOp(asm.DWord) && next.Offset == ins.Offset+plan.HelperErrorHelper && next.Constant != 0 {
				helpers = append(helpers, asm.BuiltinFunc(next.Constant))
			}
		}
	}
	if len(helpers) != 2 || helpers[0] != asm.FnMapUpdateElem || helpers[1] != asm.FnProbeReadUserStr {
		t.Errorf("reported helpers %v, want map_update_elem then probe_read_user_str", helpers)
	}
}

// signal() passes the signal's number, a name resolved at compile time;
// override() passes the context and the value.
func TestSignalAndOverride(t *testing.T) {
	insns := generateWith(t, `tracepoint:syscalls:sys_enter_openat { signal("SIGUSR2"); signal(args.dfd); }`, false)
	if got, want := calls(insns), "FnSendSignal FnSendSignal"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	for i, ins := range insns {
		if ins.IsBuiltinCall() {
			if prev := insns[i-1]; prev.Dst != asm.R1 || prev.OpCode.ALUOp() != asm.Mov || (prev.OpCode.Source() == asm.ImmSource && prev.Constant != 12) {
				t.Errorf("before %v: %v, want r1 = 12 (SIGUSR2) or r1 = the argument", ins, prev)
			}
		}
	}
}

// len(@map) is bpf_for_each_map_elem with a callback that returns 0, so
// the helper's count of visited elements is the length; both functions
// carry the BTF the kernel wants for a callback.
func TestMapLengthCallback(t *testing.T) {
	insns := generateWith(t, `BEGIN { @m[1] = 1; printf("%d\n", len(@m)); }`, false)
	var ref string
	for i, ins := range insns {
		if ins.IsBuiltinCall() && asm.BuiltinFunc(ins.Constant) == asm.FnForEachMapElem {
			for _, prev := range insns[:i] {
				if prev.IsLoadOfFunctionPointer() && prev.Dst == asm.R2 {
					ref = prev.Reference()
				}
			}
		}
	}
	if ref == "" {
		t.Fatalf("no callback passed to bpf_for_each_map_elem:\n%v", insns)
	}
	cb := insns[len(insns)-2:]
	if cb[0].Symbol() != ref || cb[0].OpCode.ALUOp() != asm.Mov || cb[0].Constant != 0 || cb[1].OpCode.JumpOp() != asm.Exit {
		t.Errorf("callback %v, want %s: r0 = 0; exit", cb, ref)
	}
	if fn := btf.FuncMetadata(&cb[0]); fn == nil || fn.Linkage != btf.StaticFunc {
		t.Errorf("callback func info %v, want a static function", fn)
	}
	if btf.FuncMetadata(&insns[0]) == nil {
		t.Error("the program has no func info, which the kernel needs once a callback has")
	}
	if insns := generateWith(t, `BEGIN { @m[1] = 1; }`, false); btf.FuncMetadata(&insns[0]) != nil {
		t.Error("func info without a callback")
	}
}

// ntop(af, addr) lays out the 24-byte address user space prints: the
// family, then the address, then zeros.
func TestNtopRecord(t *testing.T) {
	insns := generateWith(t, `BEGIN { @a = ntop(10, 7); }`, false)
	var stores []asm.Instruction
	for _, ins := range insns {
		if ins.OpCode.Class().IsStore() && ins.Dst == asm.RFP {
			stores = append(stores, ins)
		}
	}
	// The first stores build the value: family (from r0), address (r0),
	// then an immediate zero.
	var af, addr, pad *asm.Instruction
	for i := range stores {
		if stores[i].OpCode == asm.StoreImmOp(asm.DWord) && stores[i].Constant == 0 && addr != nil {
			pad = &stores[i]
			break
		}
		if stores[i].OpCode.Class() == asm.StXClass && stores[i].Src == asm.R0 {
			if af == nil {
				af = &stores[i]
			} else if addr == nil {
				addr = &stores[i]
			}
		}
	}
	if af == nil || addr == nil || pad == nil || addr.Offset != af.Offset+8 || pad.Offset != af.Offset+16 {
		t.Errorf("stores %v: want family, address and padding 8 bytes apart", stores)
	}
}

// path() hands bpf_d_path the argument loaded straight from the context,
// a typed pointer, not the copy other uses of the argument read.
func TestPathLoadsTypedPointer(t *testing.T) {
	// fentry's arguments come from the running kernel's BTF.
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); errors.Is(err, os.ErrNotExist) {
		t.Skipf("needs kernel BTF (CONFIG_DEBUG_INFO_BTF) for fentry's args: %v", err)
	}
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	res, err := compile.Compile(source.NewFile("t.bt", `fentry:security_inode_getattr { @[path(args.path, 100)] = count(); }`),
		all.Registry(), env, compile.Options{Plan: plan.DefaultOptions})
	if err != nil {
		t.Fatalf("fentry:security_inode_getattr with kernel BTF: %v", err)
	}
	insns := res.Programs[0].Insns
	for i, ins := range insns {
		if !ins.IsBuiltinCall() || asm.BuiltinFunc(ins.Constant) != asm.FnDPath {
			continue
		}
		var r1, r3 *asm.Instruction
		for j := i - 1; j >= 0 && (r1 == nil || r3 == nil); j-- {
			if insns[j].Dst == asm.R1 && r1 == nil {
				r1 = &insns[j]
			}
			if insns[j].Dst == asm.R3 && r3 == nil {
				r3 = &insns[j]
			}
		}
		if r1 == nil || r1.OpCode.Class() != asm.LdXClass || r1.Src != asm.R6 || r1.Offset != 0 {
			t.Errorf("bpf_d_path's path: %v, want a load from the context's first slot", r1)
		}
		if r3 == nil || r3.Constant != 100 {
			t.Errorf("bpf_d_path's size: %v, want 100", r3)
		}
		return
	}
	t.Fatalf("no bpf_d_path call:\n%v", insns)
}
