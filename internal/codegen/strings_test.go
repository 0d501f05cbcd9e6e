package codegen_test

import (
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/codegen"
	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

func compileScript(t *testing.T, script string) *compile.Result {
	t.Helper()
	return tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), script, compile.Options{Plan: plan.DefaultOptions})
}

// join() builds its record in the ring buffer: reserve, then for each of
// the 16 elements read the pointer and the string, then submit; nothing
// of the record goes through the stack.
func TestJoinReservesInRing(t *testing.T) {
	insns := generate(t, `tracepoint:syscalls:sys_enter_execve { join(args.argv); }`)
	want := "FnRingbufReserve"
	for range 16 {
		want += " FnProbeReadUser FnProbeReadUserStr"
	}
	want += " FnRingbufSubmit"
	if got := calls(insns); got != want {
		t.Errorf("calls %q\nwant %q", got, want)
	}
}

// strcontains() with a literal needle compares haystack bytes with
// immediates: no helper, and no register-to-register byte comparison.
func TestStrcontainsLiteralNeedle(t *testing.T) {
	insns := generate(t, `BEGIN { @x = strcontains("hello world", "wor"); }`)
	immediates := map[int64]int{}
	for _, ins := range insns {
		op := ins.OpCode
		if !op.Class().IsJump() || op.JumpOp() != asm.JNE {
			continue
		}
		if op.Source() == asm.RegSource {
			t.Errorf("register comparison %v", ins)
		}
		immediates[ins.Constant]++
	}
	// Each of the 12 start positions (the literal's buffer size) compares
	// a 'w'; the later needle bytes only where they fit in the buffer.
	if immediates['w'] != 12 || immediates['o'] != 11 || immediates['r'] != 10 {
		t.Errorf("comparisons with w, o, r: %d, %d, %d", immediates['w'], immediates['o'], immediates['r'])
	}
}

// A probe whose strings outgrow the BPF stack keeps its frame in the
// scratch map: after the context is saved, a prologue looks the map up
// with a key on the stack, and from then on no instruction touches r10.
func TestLongStringsUseScratch(t *testing.T) {
	res := compileScript(t, `config = { max_strlen = 1024 }
tracepoint:syscalls:sys_enter_openat { printf("%s\n", str(args.filename)); }`)
	insns := res.Programs[0].Insns
	if got := insns[2].Reference(); got != plan.ScratchMap {
		t.Fatalf("instruction 2 references %q, want the scratch map; program:\n%v", got, insns)
	}
	for i, ins := range insns[9:] {
		if ins.Dst == asm.R10 || ins.Src == asm.R10 {
			t.Errorf("instruction %d uses r10 after the prologue: %v", 9+i, ins)
		}
	}
	if m := res.Spec().Maps[plan.ScratchMap]; m == nil || m.ValueSize != codegen.ScratchSize {
		t.Errorf("scratch map spec %+v", m)
	}
	// The default size fits the stack: no scratch map.
	small := compileScript(t, `tracepoint:syscalls:sys_enter_openat { printf("%s\n", str(args.filename)); }`)
	if _, ok := small.Spec().Maps[plan.ScratchMap]; ok {
		t.Error("a probe within the stack has a scratch map")
	}
}
