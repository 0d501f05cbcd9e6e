package engine_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/engine"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// The tests in this file run the same programs in the kernel (socket
// filters through BPF_PROG_TEST_RUN) and in the engine, and compare what
// each wrote: every case stores its 64-bit result in its own slot of an
// array map's only value, so nothing is lost to the 32-bit return value.

// cases builds a program whose case i leaves its result in R1, which is
// stored at slot i of the results value (R9 points at it).
type cases struct {
	insns asm.Instructions
	names []string
	funcs asm.Instructions // BPF functions, after the program's exit
	maps  []*ebpf.MapSpec  // besides results
}

func (c *cases) add(name string, body ...asm.Instruction) {
	c.insns = append(c.insns, body...)
	c.insns = append(c.insns, asm.StoreMem(asm.R9, int16(8*len(c.names)), asm.R1, asm.DWord))
	c.names = append(c.names, name)
}

// values are 64-bit operands: the edges of the signed and unsigned ranges
// of both widths, shift counts around their masks, and bit patterns.
var values = []uint64{
	0, 1, 2, 7, math.MaxUint64, math.MaxUint64 - 1, math.MaxUint64 - 6,
	1 << 63, math.MaxInt64, 0xffffffff_80000000, 0x7fffffff, 0x80000000, 0xffffffff, 0x1_00000000,
	31, 32, 63, 64, 65, 0x0123456789abcdef, 0xfedcba9876543210,
}

// imms are 32-bit immediates (sign-extended by 64-bit operations).
var imms = []int32{0, 1, -1, 2, 7, -7, math.MinInt32, math.MaxInt32, 31, 32, 63, 0x7ff}

func load2(a, b uint64) []asm.Instruction {
	return []asm.Instruction{asm.LoadImm(asm.R1, int64(a), asm.DWord), asm.LoadImm(asm.R2, int64(b), asm.DWord)}
}

// compare runs c's program in the kernel and in the engine and fails the
// test for each slot where they differ.
func compare(t *testing.T, c *cases) {
	t.Helper()
	testutil.RequireRoot(t)
	insns := append(asm.Instructions{
		asm.LoadMapValue(asm.R9, 0, 0).WithReference("results"),
	}, c.insns...)
	insns = append(insns, asm.Mov.Imm(asm.R0, 0), asm.Return())
	if len(c.funcs) > 0 && btf.FuncMetadata(&c.funcs[0]) != nil {
		// Functions with BTF need the program's BTF too.
		insns[0] = btf.WithFuncMetadata(insns[0], &btf.Func{Name: "prog", Linkage: btf.GlobalFunc, Type: &btf.FuncProto{
			Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
			Params: []btf.FuncParam{{Name: "ctx", Type: &btf.Pointer{Target: &btf.Void{}}}},
		}})
	}
	insns = append(insns, c.funcs...)
	spec := &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{"results": {
			Name: "results", Type: ebpf.Array, KeySize: 4, ValueSize: uint32(8 * len(c.names)), MaxEntries: 1,
		}},
		Programs: map[string]*ebpf.ProgramSpec{"prog": {
			Name: "prog", Type: ebpf.SocketFilter, License: "GPL", Instructions: insns,
		}},
	}
	for _, m := range c.maps {
		spec.Maps[m.Name] = m
	}
	data := make([]byte, 64)
	coll, err := ebpf.NewCollection(spec.Copy())
	if err != nil {
		t.Fatalf("kernel load: %v", err)
	}
	defer coll.Close()
	if _, err := coll.Programs["prog"].Run(&ebpf.RunOptions{Data: data}); err != nil {
		t.Fatalf("kernel run: %v", err)
	}
	want := make([]byte, 8*len(c.names))
	if err := coll.Maps["results"].Lookup(uint32(0), &want); err != nil {
		t.Fatal(err)
	}
	ec, err := engine.NewCollection(spec.Copy(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.Programs["prog"].Run(data, nil); err != nil {
		t.Fatalf("engine run: %v", err)
	}
	got := ec.Maps["results"].Lookup([]byte{0, 0, 0, 0}, 0)
	bad := 0
	for i, name := range c.names {
		k, e := binary.LittleEndian.Uint64(want[8*i:]), binary.LittleEndian.Uint64(got[8*i:])
		if k != e {
			bad++
			if bad <= 20 {
				t.Errorf("%s: kernel %#x, engine %#x", name, k, e)
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d differences in all, of %d cases", bad, len(c.names))
	}
}

var aluOps = []asm.ALUOp{
	asm.Add, asm.Sub, asm.Mul, asm.Div, asm.SDiv, asm.Or, asm.And, asm.LSh, asm.RSh,
	asm.Mod, asm.SMod, asm.Xor, asm.Mov, asm.ArSh,
}

func TestKernelALU(t *testing.T) {
	for _, wide := range []bool{true, false} {
		for _, op := range aluOps {
			name := fmt.Sprintf("%v64", op)
			if !wide {
				name = fmt.Sprintf("%v32", op)
			}
			t.Run(name, func(t *testing.T) {
				var c cases
				for _, a := range values {
					for _, b := range values {
						ins := op.Reg(asm.R1, asm.R2)
						if !wide {
							ins = op.Reg32(asm.R1, asm.R2)
						}
						c.add(fmt.Sprintf("%s r1=%#x r2=%#x", name, a, b), append(load2(a, b), ins)...)
					}
					for _, k := range imms {
						if refusedImm(op, k, wide) {
							continue
						}
						ins := op.Imm(asm.R1, k)
						if !wide {
							ins = op.Imm32(asm.R1, k)
						}
						c.add(fmt.Sprintf("%s r1=%#x imm=%d", name, a, k), asm.LoadImm(asm.R1, int64(a), asm.DWord), ins)
					}
				}
				compare(t, &c)
			})
		}
	}
}

// refusedImm reports whether the verifier refuses op with immediate k:
// division by a constant zero, a constant shift beyond the width.
func refusedImm(op asm.ALUOp, k int32, wide bool) bool {
	width := int32(32)
	if wide {
		width = 64
	}
	switch op {
	case asm.Div, asm.SDiv, asm.Mod, asm.SMod:
		return k == 0
	case asm.LSh, asm.RSh, asm.ArSh:
		return k < 0 || k >= width
	}
	return false
}

func TestKernelUnaryALU(t *testing.T) {
	var c cases
	for _, a := range values {
		set := asm.LoadImm(asm.R1, int64(a), asm.DWord)
		c.add(fmt.Sprintf("neg64 %#x", a), set, asm.Neg.Imm(asm.R1, 0))
		c.add(fmt.Sprintf("neg32 %#x", a), set, asm.Neg.Imm32(asm.R1, 0))
		for _, op := range []asm.ALUOp{asm.MovSX8, asm.MovSX16, asm.MovSX32} {
			c.add(fmt.Sprintf("%v64 %#x", op, a), append(load2(0, a), op.Reg(asm.R1, asm.R2))...)
			if op != asm.MovSX32 {
				c.add(fmt.Sprintf("%v32 %#x", op, a), append(load2(0, a), op.Reg32(asm.R1, asm.R2))...)
			}
		}
		for _, size := range []asm.Size{asm.Half, asm.Word, asm.DWord} {
			c.add(fmt.Sprintf("to_le%d %#x", 8*size.Sizeof(), a), set, asm.HostTo(asm.LE, asm.R1, size))
			c.add(fmt.Sprintf("to_be%d %#x", 8*size.Sizeof(), a), set, asm.HostTo(asm.BE, asm.R1, size))
			c.add(fmt.Sprintf("bswap%d %#x", 8*size.Sizeof(), a), set, asm.BSwap(asm.R1, size))
		}
	}
	compare(t, &c)
}

var jumpOps = []asm.JumpOp{
	asm.JEq, asm.JGT, asm.JGE, asm.JSet, asm.JNE, asm.JSGT, asm.JSGE, asm.JLT, asm.JLE, asm.JSLT, asm.JSLE,
}

// jumpCase leaves 1 in R1 when cond jumps, else 0.
func jumpCase(cond asm.Instruction) []asm.Instruction {
	cond.Offset = 2
	return []asm.Instruction{cond, asm.Mov.Imm(asm.R1, 0), {OpCode: asm.Ja.Op(asm.ImmSource), Offset: 1}, asm.Mov.Imm(asm.R1, 1)}
}

func TestKernelJumps(t *testing.T) {
	for _, op := range jumpOps {
		t.Run(op.String(), func(t *testing.T) {
			var c cases
			for _, a := range values {
				for _, b := range values {
					for _, wide := range []bool{true, false} {
						ins := op.Reg(asm.R1, asm.R2, "")
						if !wide {
							ins = op.Reg32(asm.R1, asm.R2, "")
						}
						c.add(fmt.Sprintf("%v wide=%v r1=%#x r2=%#x", op, wide, a, b), append(load2(a, b), jumpCase(ins)...)...)
					}
				}
				for _, k := range imms {
					for _, wide := range []bool{true, false} {
						ins := op.Imm(asm.R1, k, "")
						if !wide {
							ins = op.Imm32(asm.R1, k, "")
						}
						c.add(fmt.Sprintf("%v wide=%v r1=%#x imm=%d", op, wide, a, k), append(load2(a, 0), jumpCase(ins)...)...)
					}
				}
			}
			compare(t, &c)
		})
	}
}

func TestKernelMemory(t *testing.T) {
	var c cases
	const pattern = 0x8182838485868788
	for _, a := range []uint64{pattern, 0x7f7e7d7c7b7a7978} {
		for _, size := range []asm.Size{asm.Byte, asm.Half, asm.Word, asm.DWord} {
			for off := int16(-8); off <= -int16(size.Sizeof()); off += int16(size.Sizeof()) {
				c.add(fmt.Sprintf("ldx%d %#x at %d", size.Sizeof(), a, off),
					asm.LoadImm(asm.R2, int64(a), asm.DWord), asm.StoreMem(asm.R10, -8, asm.R2, asm.DWord),
					asm.LoadMem(asm.R1, asm.R10, off, size))
				if size != asm.DWord {
					c.add(fmt.Sprintf("ldsx%d %#x at %d", size.Sizeof(), a, off),
						asm.LoadImm(asm.R2, int64(a), asm.DWord), asm.StoreMem(asm.R10, -8, asm.R2, asm.DWord),
						asm.LoadMemSX(asm.R1, asm.R10, off, size))
				}
				c.add(fmt.Sprintf("stx%d %#x at %d", size.Sizeof(), a, off),
					stImm(asm.R10, -8, 0, asm.DWord), asm.LoadImm(asm.R2, int64(a), asm.DWord),
					asm.StoreMem(asm.R10, off, asm.R2, size), asm.LoadMem(asm.R1, asm.R10, -8, asm.DWord))
				c.add(fmt.Sprintf("st%d -2 at %d", size.Sizeof(), off),
					stImm(asm.R10, -8, 0, asm.DWord), stImm(asm.R10, off, -2, size),
					asm.LoadMem(asm.R1, asm.R10, -8, asm.DWord))
			}
		}
	}
	compare(t, &c)
}

// atomic returns an atomic instruction with its operation in the
// immediate too: cilium/ebpf v0.22's Marshal takes the immediate from
// Constant (see codegen's fetchAdd).
func atomic(op asm.AtomicOp, size asm.Size) asm.Instruction {
	ins := op.Mem(asm.R10, asm.R2, size, -8)
	ins.Constant = int64(op >> 8)
	return ins
}

func TestKernelAtomics(t *testing.T) {
	var c cases
	ops := []asm.AtomicOp{asm.AddAtomic, asm.FetchAdd, asm.OrAtomic, asm.FetchOr, asm.AndAtomic, asm.FetchAnd,
		asm.XorAtomic, asm.FetchXor, asm.Xchg, asm.CmpXchg}
	olds := []uint64{0, 0xffffffff, 0xfedcba9876543210, 0x7fffffff}
	for _, op := range ops {
		for _, size := range []asm.Size{asm.Word, asm.DWord} {
			for _, old := range olds {
				for _, src := range []uint64{1, 0xffffffff_00000001, 0xfedcba9876543210, 0x7fffffff} {
					for _, r0 := range []uint64{old, old + 1} {
						name := fmt.Sprintf("%v size %d old=%#x src=%#x r0=%#x", op, size.Sizeof(), old, src, r0)
						prep := []asm.Instruction{
							asm.LoadImm(asm.R1, int64(old), asm.DWord), asm.StoreMem(asm.R10, -8, asm.R1, asm.DWord),
							asm.LoadImm(asm.R2, int64(src), asm.DWord), asm.LoadImm(asm.R0, int64(r0), asm.DWord),
							atomic(op, size),
						}
						c.add(name+": memory", append(prep, asm.LoadMem(asm.R1, asm.R10, -8, asm.DWord))...)
						c.add(name+": src", append(prep, asm.Mov.Reg(asm.R1, asm.R2))...)
						c.add(name+": r0", append(prep, asm.Mov.Reg(asm.R1, asm.R0))...)
						if op != asm.CmpXchg {
							break
						}
					}
				}
			}
		}
	}
	compare(t, &c)
}

// TestKernelCalls covers bpf-to-bpf calls (arguments, R6-R9 kept, a stack
// per frame, the result in R0) and the 32-bit-offset jump.
func TestKernelCalls(t *testing.T) {
	var c cases
	c.add("call",
		asm.Mov.Imm(asm.R6, 6), asm.Mov.Imm(asm.R7, 7),
		stImm(asm.R10, -8, 100, asm.DWord),
		asm.Mov.Imm(asm.R1, 40), asm.Mov.Imm(asm.R2, 2),
		asm.Call.Label("sum"),
		asm.LoadMem(asm.R3, asm.R10, -8, asm.DWord),
		asm.Add.Reg(asm.R0, asm.R3),
		asm.Add.Reg(asm.R0, asm.R6),
		asm.Add.Reg(asm.R0, asm.R7),
		asm.Mov.Reg(asm.R1, asm.R0),
	)
	gotol := func(to string) asm.Instruction {
		return asm.Instruction{OpCode: asm.OpCode(asm.Jump32Class).SetJumpOp(asm.Ja), Constant: -1}.WithReference(to)
	}
	c.add("gotol",
		asm.Mov.Imm(asm.R1, 1),
		gotol("forward"),
		asm.Add.Imm(asm.R1, 10).WithSymbol("back"),
		asm.Ja.Label("done"),
		asm.Add.Imm(asm.R1, 100).WithSymbol("forward"),
		gotol("back"),
		asm.Mov.Reg(asm.R1, asm.R1).WithSymbol("done"),
	)
	c.funcs = asm.Instructions{
		// sum(a, b) = a + b + 5, through its own stack, clobbering R6.
		asm.Mov.Reg(asm.R0, asm.R1).WithSymbol("sum"),
		asm.Add.Reg(asm.R0, asm.R2),
		stImm(asm.R10, -8, 5, asm.DWord),
		asm.Mov.Imm(asm.R6, 66),
		asm.LoadMem(asm.R6, asm.R10, -8, asm.DWord),
		asm.Add.Reg(asm.R0, asm.R6),
		asm.Return(),
	}
	compare(t, &c)
}

// stImm stores an immediate; asm.StoreImm refuses double words, which the
// kernel takes (sign-extended).
func stImm(dst asm.Register, off int16, v int64, size asm.Size) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(size), Dst: dst, Offset: off, Constant: v}
}
