package codegen

import (
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// A __rel_loc offset counts from the end of its u32, a __data_loc offset
// from the start of the context.
func TestRelLoc(t *testing.T) {
	file := source.NewFile("t.bt", "")
	for _, rel := range []bool{false, true} {
		g := &gen{
			Builder: emit.New(file),
			info:    &check.Info{Program: &syntax.Program{File: file}},
			diag:    &source.Diagnostics{File: file},
		}
		g.strArg(probe.Arg{Type: types.String(64), Offset: 12, DataLoc: true, RelLoc: rel}, 64)
		found := false
		for _, ins := range g.Insns {
			if ins.OpCode.ALUOp() == asm.Add && ins.Dst == asm.R3 && ins.OpCode.Source() == asm.ImmSource && ins.Constant == 16 {
				found = true
			}
		}
		if found != rel {
			t.Errorf("rel_loc %v: adds the end of the field: %v\n%v", rel, found, g.Insns)
		}
	}
}
