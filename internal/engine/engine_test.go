package engine_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/engine"
)

// pos is a source position as the compiler attaches it to instructions.
type pos string

func (p pos) String() string { return string(p) }

// build makes a program of insns over maps (name -> spec) with ncpu CPUs.
func build(t *testing.T, ncpu int, insns asm.Instructions, maps ...*ebpf.MapSpec) (*engine.Program, map[string]*engine.Map) {
	t.Helper()
	ms := map[string]*engine.Map{}
	for _, s := range maps {
		m, err := engine.NewMap(s, ncpu)
		if err != nil {
			t.Fatal(err)
		}
		ms[s.Name] = m
	}
	p, err := engine.NewProgram(insns, ms)
	if err != nil {
		t.Fatal(err)
	}
	return p, ms
}

func run(t *testing.T, p *engine.Program, ctx []byte, env *engine.Env) uint64 {
	t.Helper()
	r0, err := p.Run(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	return r0
}

var out = &ebpf.MapSpec{Name: "out", Type: ebpf.Array, KeySize: 4, ValueSize: 64, MaxEntries: 1}

// outValue returns the out map's value: what a program stored at R9.
func outValue(ms map[string]*engine.Map) []byte { return ms["out"].Lookup([]byte{0, 0, 0, 0}, 0) }

func TestTaskHelpers(t *testing.T) {
	p, ms := build(t, 4, asm.Instructions{
		asm.LoadMapValue(asm.R9, 0, 0).WithReference("out"),
		asm.FnGetCurrentPidTgid.Call(), asm.StoreMem(asm.R9, 0, asm.R0, asm.DWord),
		asm.FnGetCurrentUidGid.Call(), asm.StoreMem(asm.R9, 8, asm.R0, asm.DWord),
		asm.FnKtimeGetNs.Call(), asm.StoreMem(asm.R9, 16, asm.R0, asm.DWord),
		asm.FnKtimeGetBootNs.Call(), asm.StoreMem(asm.R9, 24, asm.R0, asm.DWord),
		asm.FnGetSmpProcessorId.Call(), asm.StoreMem(asm.R9, 32, asm.R0, asm.DWord),
		asm.FnGetCurrentCgroupId.Call(), asm.StoreMem(asm.R9, 40, asm.R0, asm.DWord),
		// a comm of 8 bytes: truncated, NUL-terminated
		asm.Mov.Reg(asm.R1, asm.R9), asm.Add.Imm(asm.R1, 48), asm.Mov.Imm(asm.R2, 8),
		asm.FnGetCurrentComm.Call(),
		asm.Mov.Imm(asm.R0, 0), asm.Return(),
	}, out)
	env := &engine.Env{CPU: 3, TGID: 10, PID: 11, UID: 1000, GID: 100, Ktime: 5e9, BootTime: 6e9, CgroupID: 77}
	copy(env.Comm[:], "a-long-thread")
	run(t, p, nil, env)
	v := outValue(ms)
	want := []uint64{10<<32 | 11, 100<<32 | 1000, 5e9, 6e9, 3, 77}
	for i, w := range want {
		if got := binary.LittleEndian.Uint64(v[8*i:]); got != w {
			t.Errorf("slot %d: %d, want %d", i, got, w)
		}
	}
	if got := string(v[48:56]); got != "a-long-\x00" {
		t.Errorf("comm %q", got)
	}
}

// TestProbeRead reads from the context (a string field), from an address
// no region holds (-EFAULT, the destination zeroed), and through
// Env.ReadMemory.
func TestProbeRead(t *testing.T) {
	// R9 = out, R6 = ctx; ctx+4 holds "hello\0": 6 bytes with the NUL
	insns := asm.Instructions{
		asm.LoadMapValue(asm.R9, 0, 0).WithReference("out"), asm.Mov.Reg(asm.R6, asm.R1),
		asm.Mov.Reg(asm.R1, asm.R9), asm.Mov.Imm(asm.R2, 8),
		asm.Mov.Reg(asm.R3, asm.R6), asm.Add.Imm(asm.R3, 4),
		asm.FnProbeReadKernelStr.Call(), asm.StoreMem(asm.R9, 24, asm.R0, asm.DWord),
	}
	// a string truncated to 4 bytes: "hel\0", 4
	insns = append(insns, asm.Mov.Reg(asm.R1, asm.R9), asm.Add.Imm(asm.R1, 8), asm.Mov.Imm(asm.R2, 4),
		asm.Mov.Reg(asm.R3, asm.R6), asm.Add.Imm(asm.R3, 4),
		asm.FnProbeReadKernelStr.Call(), asm.StoreMem(asm.R9, 32, asm.R0, asm.DWord))
	// an address outside every region: -EFAULT, destination zeroed
	insns = append(insns, stImm(asm.R9, 16, -1, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R9), asm.Add.Imm(asm.R1, 16), asm.Mov.Imm(asm.R2, 8),
		asm.LoadImm(asm.R3, 0x7ffd_0000_1000, asm.DWord),
		asm.FnProbeReadUser.Call(), asm.StoreMem(asm.R9, 40, asm.R0, asm.DWord),
		asm.Mov.Imm(asm.R0, 0), asm.Return())
	p, ms := build(t, 1, insns, out)
	ctx := []byte("\x00\x00\x00\x00hello\x00zz")
	run(t, p, ctx, nil)
	v := outValue(ms)
	if got := string(v[:8]); got != "hello\x00\x00\x00" {
		t.Errorf("string %q", got)
	}
	if got := string(v[8:12]); got != "hel\x00" {
		t.Errorf("truncated string %q", got)
	}
	for _, c := range []struct {
		at   int
		want int64
	}{{24, 6}, {32, 4}, {40, -int64(syscall.EFAULT)}, {16, 0}} {
		if got := int64(binary.LittleEndian.Uint64(v[c.at:])); got != c.want {
			t.Errorf("slot %d: %d, want %d", c.at, got, c.want)
		}
	}
	var asked uint64
	run(t, p, ctx, &engine.Env{ReadMemory: func(dst []byte, addr uint64, user bool) error {
		asked = addr
		copy(dst, "memory!!")
		return nil
	}})
	if got := string(outValue(ms)[16:24]); got != "memory!!" || asked != 0x7ffd_0000_1000 {
		t.Errorf("ReadMemory: %q from %#x", got, asked)
	}
}

// TestAccessErrors checks that bad accesses stop the run with an *Error
// at the instruction and its source position, never a panic.
func TestAccessErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		insns asm.Instructions
		want  string
		is    error
	}{
		{"stack underflow", asm.Instructions{asm.LoadMem(asm.R0, asm.R10, -520, asm.DWord).WithSource(pos("x.bt:1:2")), asm.Return()},
			"x.bt:1:2: instruction 0 (LdXMemDW dst: r0 src: rfp off: -520 imm: 0): invalid memory access: read of 8 bytes at stack offset -520, outside its 512 bytes", engine.ErrMemory},
		{"above the frame", asm.Instructions{asm.StoreMem(asm.R10, 0, asm.R1, asm.Word).WithSource(pos("x.bt:2:1")), asm.Return()},
			"x.bt:2:1: instruction 0 (StXMemW dst: rfp src: r1 off: 0 imm: 0): invalid memory access: write of 4 bytes at stack offset 0, outside its 512 bytes", engine.ErrMemory},
		{"ctx is read-only", asm.Instructions{asm.StoreMem(asm.R1, 0, asm.R1, asm.Byte), asm.Return()},
			"instruction 0 (StXMemB dst: r1 src: r1 off: 0 imm: 0): invalid memory access: write of 1 bytes to read-only ctx", engine.ErrMemory},
		{"past the ctx", asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 6, asm.Half), asm.Return()},
			"instruction 0 (LdXMemH dst: r0 src: r1 off: 6 imm: 0): invalid memory access: read of 2 bytes at offset 6 of the ctx, outside its 7 bytes", engine.ErrMemory},
		{"scalar", asm.Instructions{asm.Mov.Imm(asm.R1, 4096), asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord), asm.Return()},
			"instruction 1 (LdXMemDW dst: r0 src: r1 off: 0 imm: 0): invalid memory access: read of 8 bytes at 0x1000, not a pointer of this run", engine.ErrMemory},
		{"map value end", asm.Instructions{asm.LoadMapValue(asm.R1, 0, 60).WithReference("out"), asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord), asm.Return()},
			"instruction 1 (LdXMemDW dst: r0 src: r1 off: 0 imm: 0): invalid memory access: read of 8 bytes at offset 60 of the value of map out, outside its 64 bytes", engine.ErrMemory},
		{"map handle", asm.Instructions{asm.LoadMapPtr(asm.R1, 0).WithReference("out"), asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord), asm.Return()},
			"instruction 1 (LdXMemDW dst: r0 src: r1 off: 0 imm: 0): invalid memory access: read of 8 bytes through a map or function handle", engine.ErrMemory},
		{"budget", asm.Instructions{asm.Ja.Label("loop").WithSymbol("loop")},
			"instruction 0 (Ja off: -1 <loop>): instruction budget exhausted: more than 1000000 instructions", engine.ErrBudget},
		{"recursion", asm.Instructions{asm.Call.Label("f"), asm.Return(), asm.Call.Label("f").WithSymbol("f"), asm.Return()},
			"instruction 2 (Call -1 <f>): invalid program: calls nest deeper than 8 frames", engine.ErrInvalid},
		{"helper key", asm.Instructions{asm.LoadMapPtr(asm.R1, 0).WithReference("out"), asm.Mov.Reg(asm.R2, asm.R10), asm.FnMapLookupElem.Call().WithSource(pos("x.bt:3:4")), asm.Return()},
			"x.bt:3:4: instruction 2 (Call FnMapLookupElem): bpf_map_lookup_elem: invalid memory access: read of 4 bytes at stack offset 0, outside its 512 bytes", engine.ErrMemory},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := build(t, 1, c.insns, out)
			_, err := p.Run(make([]byte, 7), nil)
			var e *engine.Error
			if !errors.As(err, &e) || !errors.Is(err, c.is) {
				t.Fatalf("error %v, want an *engine.Error wrapping %v", err, c.is)
			}
			if err.Error() != c.want {
				t.Errorf("error\n%s\nwant\n%s", err, c.want)
			}
		})
	}
}

// TestStalePointer keeps a map value's address in a map across runs: the
// second run's dereference is refused, not served from the first run's
// region.
func TestStalePointer(t *testing.T) {
	p, _ := build(t, 1, asm.Instructions{
		asm.LoadMapValue(asm.R9, 0, 0).WithReference("out"),
		asm.LoadMem(asm.R1, asm.R9, 0, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, "first"),
		asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord),
		asm.Return(),
		stImm(asm.R10, -4, 0, asm.Word).WithSymbol("first"),
		asm.LoadMapPtr(asm.R1, 0).WithReference("out"),
		asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.StoreMem(asm.R9, 0, asm.R0, asm.DWord),
		asm.Return(),
	}, out)
	run(t, p, nil, nil)
	if _, err := p.Run(nil, nil); !errors.Is(err, engine.ErrMemory) || !strings.Contains(err.Error(), "not a pointer of this run") {
		t.Fatalf("second run: %v, want a stale pointer refused", err)
	}
}

func TestUnsupported(t *testing.T) {
	for fn, name := range map[asm.BuiltinFunc]string{
		asm.FnGetStackid: "get_stackid", asm.FnGetStack: "get_stack", asm.FnGetCurrentTask: "get_current_task",
		asm.FnGetCurrentTaskBtf: "get_current_task_btf", asm.FnDPath: "d_path", asm.FnSendSignal: "send_signal",
		asm.FnOverrideReturn: "override_return", asm.FnGetNsCurrentPidTgid: "get_ns_current_pid_tgid",
	} {
		_, err := engine.NewProgram(asm.Instructions{fn.Call().WithSource(pos("s.bt:1:1")), asm.Return()}, nil)
		want := "s.bt:1:1: instruction 0 (Call " + fn.String() + "): not available in the user-space engine: helper bpf_" + name
		if !errors.Is(err, engine.ErrUnsupported) || err.Error() != want {
			t.Errorf("%v: %v, want %s", fn, err, want)
		}
	}
}

func TestPerCPU(t *testing.T) {
	spec := &ebpf.MapSpec{Name: "pc", Type: ebpf.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 8}
	// @pc[0]++ on this CPU, then r0 = the value on CPU 1 (or -1 when
	// CPU 1 has none: beyond the CPUs).
	p, ms := build(t, 2, asm.Instructions{
		stImm(asm.R10, -4, 0, asm.Word), stImm(asm.R10, -16, 1, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference("pc"),
		asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "new"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Ja.Label("read"),
		asm.LoadMapPtr(asm.R1, 0).WithReference("pc").WithSymbol("new"),
		asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -4),
		asm.Mov.Reg(asm.R3, asm.R10), asm.Add.Imm(asm.R3, -16),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
		asm.LoadMapPtr(asm.R1, 0).WithReference("pc").WithSymbol("read"),
		asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -4),
		asm.Mov.Imm(asm.R3, 1),
		asm.FnMapLookupPercpuElem.Call(),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.Mov.Imm(asm.R0, -1),
		asm.JEq.Imm(asm.R1, 0, "out"),
		asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord),
		asm.Return().WithSymbol("out"),
	}, spec)
	got := []uint64{
		run(t, p, nil, &engine.Env{CPU: 0}), run(t, p, nil, &engine.Env{CPU: 0}),
		run(t, p, nil, &engine.Env{CPU: 1}), run(t, p, nil, &engine.Env{CPU: 1}),
	}
	if fmt.Sprint(got) != "[0 0 1 2]" {
		t.Errorf("CPU 1's values %v, want [0 0 1 2]", got)
	}
	values := ms["pc"].Values([]byte{0, 0, 0, 0})
	if len(values) != 2 || binary.LittleEndian.Uint64(values[0]) != 2 || binary.LittleEndian.Uint64(values[1]) != 2 {
		t.Errorf("values %x, want 2 on each CPU", values)
	}
	if _, err := p.Run(nil, &engine.Env{CPU: 2}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("CPU 2 of 2: %v", err)
	}
}

func TestLRU(t *testing.T) {
	m, err := engine.NewMap(&ebpf.MapSpec{Name: "l", Type: ebpf.LRUHash, KeySize: 1, ValueSize: 1, MaxEntries: 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range "abc" {
		if err := m.Update([]byte{byte(k)}, []byte{1}, 0, engine.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	m.Lookup([]byte("a"), 0) // b is now the least recently used
	if err := m.Update([]byte("d"), []byte{1}, 0, engine.UpdateNoExist); err != nil {
		t.Fatal(err)
	}
	// b's eviction moved the last key, c, into its place
	if got := fmt.Sprintf("%s", m.Keys()); got != "[a c d]" {
		t.Errorf("keys %s, want [a c d]", got)
	}
}

// TestRingRecords reserves, discards and submits; SetOnRecord sees the
// submitted records at once, in order.
func TestRingRecords(t *testing.T) {
	rb := &ebpf.MapSpec{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096}
	reserve := func(v int32, submit asm.BuiltinFunc) []asm.Instruction {
		skip := fmt.Sprint("skip", v)
		return []asm.Instruction{
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"), asm.Mov.Imm(asm.R2, 4), asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, skip),
			stImm(asm.R0, 0, int64(v), asm.Word),
			asm.Mov.Reg(asm.R1, asm.R0), asm.Mov.Imm(asm.R2, 0),
			submit.Call(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol(skip),
		}
	}
	var insns asm.Instructions
	insns = append(insns, reserve(1, asm.FnRingbufSubmit)...)
	insns = append(insns, reserve(2, asm.FnRingbufDiscard)...)
	insns = append(insns, reserve(3, asm.FnRingbufSubmit)...)
	insns = append(insns, asm.Return())
	p, ms := build(t, 1, insns, rb)
	run(t, p, nil, nil)
	if got := fmt.Sprintf("%x", ms["rb"].Records()); got != "[01000000 03000000]" {
		t.Errorf("records %s", got)
	}
	var seen []string
	ms["rb"].SetOnRecord(func(b []byte) { seen = append(seen, fmt.Sprintf("%x", b)) })
	run(t, p, nil, nil)
	if got := fmt.Sprint(seen); got != "[01000000 03000000]" {
		t.Errorf("seen %s", got)
	}
	// A reservation never submitted fails the run, as the verifier would
	// have refused the program.
	p, _ = build(t, 1, append(asm.Instructions{}, append(reserve(4, asm.FnRingbufSubmit)[:4], asm.Return())...), rb)
	if _, err := p.Run(nil, nil); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("leaked reservation: %v", err)
	}
}

func TestPrintk(t *testing.T) {
	format := "%s: %d %u %x %lld %c%%\x00"
	var insns asm.Instructions
	for i := 0; i < len(format); i += 8 {
		chunk := make([]byte, 8)
		copy(chunk, format[i:])
		insns = append(insns, asm.LoadImm(asm.R1, int64(binary.LittleEndian.Uint64(chunk)), asm.DWord),
			asm.StoreMem(asm.R10, int16(-64+i), asm.R1, asm.DWord))
	}
	insns = append(insns,
		stImm(asm.R10, -8, 0x6968, asm.DWord), // "hi"
		asm.Mov.Reg(asm.R3, asm.R10), asm.Add.Imm(asm.R3, -8), asm.StoreMem(asm.R10, -112, asm.R3, asm.DWord),
		stImm(asm.R10, -104, -5, asm.DWord), stImm(asm.R10, -96, -5, asm.DWord),
		stImm(asm.R10, -88, 255, asm.DWord), stImm(asm.R10, -80, -5, asm.DWord), stImm(asm.R10, -72, 'A', asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R10), asm.Add.Imm(asm.R1, -64), asm.Mov.Imm(asm.R2, int32(len(format))),
		asm.Mov.Reg(asm.R3, asm.R10), asm.Add.Imm(asm.R3, -112), asm.Mov.Imm(asm.R4, 48),
		asm.FnTraceVprintk.Call(),
		asm.Return())
	p, _ := build(t, 1, insns)
	var line string
	n := run(t, p, nil, &engine.Env{Printk: func(s string) { line = s }})
	if want := "hi: -5 4294967291 ff -5 A%"; line != want || n != uint64(len(want)) {
		t.Errorf("line %q (%d), want %q", line, n, want)
	}
}

// TestRingRefused counts the records a full ring refuses: four records of
// 1000 bytes (1008 with the header) fit in 4096, the fifth does not.
func TestRingRefused(t *testing.T) {
	var insns asm.Instructions
	for range 5 {
		insns = append(insns,
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"), asm.LoadMapValue(asm.R2, 0, 0).WithReference("big"),
			asm.Mov.Imm(asm.R3, 1000), asm.Mov.Imm(asm.R4, 0), asm.FnRingbufOutput.Call())
	}
	insns = append(insns, asm.Return())
	p, ms := build(t, 1, insns, &ebpf.MapSpec{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096},
		&ebpf.MapSpec{Name: "big", Type: ebpf.Array, KeySize: 4, ValueSize: 1000, MaxEntries: 1})
	if r0 := run(t, p, nil, nil); int64(r0) != -int64(syscall.EAGAIN) {
		t.Errorf("the fifth output returned %d, want -EAGAIN", int64(r0))
	}
	if n, refused := len(ms["rb"].Records()), ms["rb"].Refused(); n != 4 || refused != 1 {
		t.Errorf("%d records, %d refused; want 4 and 1", n, refused)
	}
}
