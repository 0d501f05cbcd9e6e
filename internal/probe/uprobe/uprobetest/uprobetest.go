// Package uprobetest owns the kernel-side helper that user-space probe
// tests share: a program that counts its hits by the value of one probe
// argument, loaded without the compiler so a provider is tested on its
// own.
package uprobetest

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// Counter is a loaded kprobe-type program and the hash map, argument
// value to hits, that it fills.
type Counter struct {
	Prog *ebpf.Program
	Hits *ebpf.Map
}

// CountBy loads a program that reads arg from its context as the
// compiler would (Load instructions, or an 8-byte read at Offset) and
// counts hits per value. It skips the test without root.
func CountBy(t testing.TB, arg probe.Arg) *Counter {
	t.Helper()
	testutil.RequireRoot(t)
	hits, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 8, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hits.Close() })
	const key, scratch, one = -8, -16, -24
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	if arg.Load != nil {
		insns = append(insns, arg.Load(scratch)...)
	} else {
		insns = append(insns, asm.LoadMem(asm.R0, asm.R6, int16(arg.Offset), asm.DWord))
	}
	insns = append(insns,
		asm.StoreMem(asm.RFP, key, asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, hits.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, key),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "miss"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Ja.Label("out"),
		asm.Mov.Imm(asm.R1, 1).WithSymbol("miss"),
		asm.StoreMem(asm.RFP, one, asm.R1, asm.DWord),
		asm.LoadMapPtr(asm.R1, hits.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, key),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, one),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, License: "GPL", Instructions: insns})
	if err != nil {
		t.Fatalf("load counting program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return &Counter{Prog: prog, Hits: hits}
}

// Counts returns the hits per argument value.
func (c *Counter) Counts(t testing.TB) map[uint64]uint64 {
	t.Helper()
	out := map[uint64]uint64{}
	var k, v uint64
	it := c.Hits.Iterate()
	for it.Next(&k, &v) {
		out[k] = v
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Attach loads a CountBy program counting hits of in by its builtin
// named by, and attaches it until the test ends. It skips the test when
// the kernel cannot run in.
func Attach(t testing.TB, in probe.Instance, by string) *Counter {
	t.Helper()
	testutil.SkipUnsupported(t, in.Available())
	arg, ok := in.Builtin(by)
	if !ok {
		t.Fatalf("%s has no %s", in.Name(), by)
	}
	c := CountBy(t, arg)
	l, err := in.Attach(c.Prog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return c
}
