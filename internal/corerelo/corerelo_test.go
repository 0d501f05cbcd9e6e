package corerelo

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/kerneltest"
)

// program reads task->real_parent, task->comm and a bitfield, each with
// the constants of a kernel without padding (kerneltest.FakeTypes(0)).
func program() asm.Instructions {
	reloc := func(ins asm.Instruction, k Kind, path ...string) asm.Instruction {
		return With(ins, &Relocation{Kind: k, Root: "struct task_struct", Path: path})
	}
	return asm.Instructions{
		reloc(asm.Add.Imm(asm.R0, 24), ByteOffset, "real_parent"),
		reloc(asm.LoadMem(asm.R1, asm.R0, 32, asm.DWord), ByteOffset, "comm"),
		reloc(asm.Mov.Imm(asm.R2, 4), ByteSize, "in_iowait"),
		reloc(asm.LSh.Imm(asm.R0, 60), LShift, "in_iowait"),
		reloc(asm.RSh.Imm(asm.R0, 61), RShift, "in_iowait"),
		With(asm.LoadImm(asm.R3, 88, asm.DWord), &Relocation{Kind: TypeSize, Root: "struct task_struct"}),
		reloc(asm.Add.Imm(asm.R0, 16), ByteOffset, "cpu"), // inside an anonymous union
		asm.Return(),
	}
}

func TestApplyMovesWithTheKernel(t *testing.T) {
	for _, tc := range []struct {
		pad  uint32
		want []int64 // the relocated constants, in program order
	}{
		{0, []int64{24, 32, 4, 60, 61, 88, 16}},
		{8, []int64{32, 40, 4, 60, 61, 96, 16}},
	} {
		insns, applied, err := Apply(program(), kerneltest.FakeTypes(tc.pad))
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != len(tc.want) {
			t.Fatalf("pad %d: %d relocations applied, want %d", tc.pad, len(applied), len(tc.want))
		}
		for i, a := range applied {
			if a.Value != tc.want[i] {
				t.Errorf("pad %d: %v = %d, want %d", tc.pad, a.Reloc, a.Value, tc.want[i])
			}
		}
		if got := insns[1].Offset; got != int16(tc.want[1]) {
			t.Errorf("pad %d: load offset %d, want %d", tc.pad, got, tc.want[1])
		}
		if got := insns[0].Constant; got != tc.want[0] {
			t.Errorf("pad %d: add constant %d, want %d", tc.pad, got, tc.want[0])
		}
		if got := insns[5].Constant; got != tc.want[5] {
			t.Errorf("pad %d: sizeof %d, want %d", tc.pad, got, tc.want[5])
		}
		// The 64-bit immediate load counts two instructions.
		if applied[6].Offset != 7 {
			t.Errorf("offset of the last relocation %d, want 7", applied[6].Offset)
		}
	}
}

func TestApplyLeavesTheInputAlone(t *testing.T) {
	prog := program()
	if _, _, err := Apply(prog, kerneltest.FakeTypes(8)); err != nil {
		t.Fatal(err)
	}
	if prog[0].Constant != 24 {
		t.Errorf("Apply changed its input: %d", prog[0].Constant)
	}
	plain := asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	out, applied, err := Apply(plain, kerneltest.FakeTypes(0))
	if err != nil || applied != nil || &out[0] != &plain[0] {
		t.Errorf("a program without relocations: %v %v %v", out, applied, err)
	}
}

func TestMissingMember(t *testing.T) {
	prog := asm.Instructions{With(asm.Add.Imm(asm.R0, 0), &Relocation{Root: "struct task_struct", Path: []string{"no_such"}})}
	if _, _, err := Apply(prog, kerneltest.FakeTypes(0)); !errors.Is(err, ErrNoMember) {
		t.Errorf("got %v, want ErrNoMember", err)
	}
	prog = asm.Instructions{With(asm.Add.Imm(asm.R0, 0), &Relocation{Root: "struct nothing", Path: []string{"x"}})}
	if _, _, err := Apply(prog, kerneltest.FakeTypes(0)); !errors.Is(err, ErrNoMember) {
		t.Errorf("got %v, want ErrNoMember", err)
	}
}

func TestRelativeToAnonymousContainer(t *testing.T) {
	// acct's type has no name: its members are relocated along the path
	// from task_struct, and measured from acct when From says so.
	for _, tc := range []struct {
		pad  uint32
		from int
		want int64
	}{{0, 1, 4}, {8, 1, 4}, {0, 0, 84}, {8, 0, 92}} {
		r := &Relocation{Kind: ByteOffset, Root: "struct task_struct", Path: []string{"acct", "level"}, From: tc.from}
		v, err := Resolve(r, kerneltest.FakeTypes(tc.pad))
		if err != nil || v != tc.want {
			t.Errorf("pad %d from %d: %d, %v; want %d", tc.pad, tc.from, v, err, tc.want)
		}
	}
}

func TestBitfieldLayout(t *testing.T) {
	for _, tc := range []struct {
		f                         Field
		off, size, lshift, rshift int
	}{
		{Field{Type: u32, BitOffset: 65, BitSize: 3}, 8, 4, 60, 61},
		{Field{Type: u32, BitOffset: 30, BitSize: 4}, 0, 8, 30, 60}, // straddles a u32: read 8 bytes
		{Field{Type: u32, BitOffset: 32}, 4, 4, 0, 0},
	} {
		off, size, l, r, err := tc.f.Layout()
		if err != nil || off != tc.off || size != tc.size || l != tc.lshift || r != tc.rshift {
			t.Errorf("%+v: %d %d %d %d %v; want %d %d %d %d", tc.f, off, size, l, r, err, tc.off, tc.size, tc.lshift, tc.rshift)
		}
	}
}

var u32 = &btf.Int{Name: "unsigned int", Size: 4}
