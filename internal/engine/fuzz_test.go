package engine_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/engine"
)

// FuzzRun feeds arbitrary instruction streams and contexts to the engine,
// with every kind of map, every pseudo source and every helper reachable:
// building or running may fail, but never panic.
func FuzzRun(f *testing.F) {
	seed := func(insns asm.Instructions) []byte {
		var buf bytes.Buffer
		if err := insns.Marshal(&buf, binary.LittleEndian); err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}
	f.Add(seed(asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()}), []byte("ctx"), uint8(0))
	f.Add(seed(asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord), asm.Return()}), make([]byte, 16), uint8(1))
	f.Add(seed(asm.Instructions{
		asm.StoreMem(asm.R10, -8, asm.R1, asm.DWord), asm.LoadMapPtr(asm.R1, 0), asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -8), asm.FnMapLookupElem.Call(), asm.Return(),
	}), make([]byte, 8), uint8(2))
	f.Add(seed(asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0), asm.Mov.Imm(asm.R2, 16), asm.Mov.Imm(asm.R3, 0), asm.FnRingbufReserve.Call(),
		asm.Mov.Reg(asm.R1, asm.R0), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufSubmit.Call(), asm.Return(),
	}), []byte{}, uint8(3))
	specs := []*ebpf.MapSpec{
		{Name: "hash", Type: ebpf.Hash, KeySize: 8, ValueSize: 16, MaxEntries: 4},
		{Name: "array", Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 2},
		{Name: "percpu", Type: ebpf.PerCPUHash, KeySize: 8, ValueSize: 8, MaxEntries: 4},
		{Name: "ring", Type: ebpf.RingBuf, MaxEntries: 4096},
	}
	f.Fuzz(func(t *testing.T, code, ctx []byte, mapSel uint8) {
		insns, err := asm.AppendInstructions(nil, bytes.NewReader(code), binary.LittleEndian, "linux")
		if err != nil && len(insns) == 0 {
			return
		}
		maps := map[string]*engine.Map{}
		for _, s := range specs {
			m, err := engine.NewMap(s, 2)
			if err != nil {
				t.Fatal(err)
			}
			maps[s.Name] = m
		}
		// Map loads refer to one map each, chosen by the fuzzer.
		for i := range insns {
			if insns[i].IsLoadFromMap() {
				insns[i] = insns[i].WithReference(specs[(int(mapSel)+i)%len(specs)].Name)
			}
		}
		p, err := engine.NewProgram(insns, maps)
		if err != nil {
			return
		}
		env := &engine.Env{CPU: int(mapSel % 3), Budget: 10000, ReadMemory: func(dst []byte, addr uint64, user bool) error {
			clear(dst)
			return nil
		}}
		for range 2 {
			p.Run(ctx, env) //nolint:errcheck // errors are expected; panics are not
		}
	})
}
