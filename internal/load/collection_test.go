package load

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// A program the kernel refuses is named by a *ProgramError that wraps
// cilium/ebpf's *ebpf.VerifierError; the programs before it loaded
// against the same maps, and nothing is left open.
func TestProgramErrorNamesProgram(t *testing.T) {
	testutil.RequireRoot(t)
	good := asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference("counts"),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}
	bad := asm.Instructions{asm.Mov.Reg(asm.R0, asm.R9), asm.Return()} // R9 is never written
	spec := &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{
			"counts": {Name: "counts", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1},
		},
		Programs: map[string]*ebpf.ProgramSpec{
			"ebt_p1": {Name: "ebt_p1", Type: ebpf.RawTracepoint, License: "GPL", Instructions: good},
			"ebt_p2": {Name: "ebt_p2", Type: ebpf.RawTracepoint, License: "GPL", Instructions: bad},
		},
	}
	coll, err := newCollection(spec, nil)
	if err == nil {
		coll.Close()
		t.Fatal("a program reading an unset register loaded")
	}
	var pe *ProgramError
	var ve *ebpf.VerifierError
	if !errors.As(err, &pe) || pe.Program != "ebt_p2" || !errors.As(err, &ve) || len(ve.Log) == 0 {
		t.Fatalf("got %v (%T), want a *ProgramError for ebt_p2 wrapping a *ebpf.VerifierError with a log", err, err)
	}

	spec.Programs["ebt_p2"].Instructions = asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	coll, err = newCollection(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	if len(coll.Programs) != 2 || coll.Programs["ebt_p1"] == nil || coll.Programs["ebt_p2"] == nil || coll.Maps["counts"] == nil {
		t.Fatalf("collection %+v", coll)
	}
	// ebt_p1 uses the collection's map, not a copy of it.
	info, err := coll.Programs["ebt_p1"].Info()
	if err != nil {
		t.Fatal(err)
	}
	mapInfo, err := coll.Maps["counts"].Info()
	if err != nil {
		t.Fatal(err)
	}
	ids, ok := info.MapIDs()
	want, _ := mapInfo.ID()
	if !ok || len(ids) != 1 || ids[0] != want {
		t.Errorf("ebt_p1 uses maps %v, want [%d]", ids, want)
	}
}
