package load

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/codegen"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/plan"
)

// flushTries bounds the runs of the flush program on one CPU: it reports
// busy only while the program it interrupted changes a slot's key, which
// takes that program a few instructions once the interrupt returns.
const flushTries = 10000

// FlushSlots has every online CPU move its count slots into their maps
// (see plan/slots.go), so that the maps hold every event so far. A CPU
// that is offline keeps its slots until it comes back.
func (o *Object) FlushSlots() error {
	prog := o.coll.Programs[plan.FlushProgram]
	if prog == nil {
		return nil
	}
	for cpu := range o.Result.Plan.SlotCPUs {
		if err := flushOn(prog, cpu); err != nil {
			return err
		}
	}
	return nil
}

func flushOn(prog *ebpf.Program, cpu int) error {
	for range flushTries {
		busy, err := prog.Run(&ebpf.RunOptions{CPU: uint32(cpu), Flags: unix.BPF_F_TEST_RUN_ON_CPU})
		switch {
		case errors.Is(err, unix.ENXIO):
			return nil // offline
		case err != nil:
			return fmt.Errorf("flush the count slots of CPU %d: %w", cpu, err)
		case busy == 0:
			return nil
		}
		runtime.Gosched()
	}
	return fmt.Errorf("flush the count slots of CPU %d: still in use after %d tries", cpu, flushTries)
}

// CountSlots reports whether this kernel runs a raw tracepoint program on
// a chosen CPU with atomic exchanges, as FlushProgram needs (Linux 5.12),
// by loading and running a small such program, once per boot when it
// does.
var CountSlots = sync.OnceValue(func() error { return kernel.BootSupports("count_slots", probeCountSlots) })

func probeCountSlots() error {
	liftMemlock()
	slots, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return fmt.Errorf("count slots: %w", err)
	}
	defer slots.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.RawTracepoint, License: "GPL",
		Instructions: asm.Instructions{
			asm.LoadMapValue(asm.R1, slots.FD(), 0),
			asm.Mov.Imm(asm.R0, 0),
			codegen.Xchg(asm.R1, asm.R0, 0),
			asm.Return(),
		},
	})
	if err != nil {
		return fmt.Errorf("count slots: %w", err)
	}
	defer prog.Close()
	if _, err := prog.Run(&ebpf.RunOptions{CPU: 0, Flags: unix.BPF_F_TEST_RUN_ON_CPU}); err != nil {
		return fmt.Errorf("count slots: run on a chosen CPU: %w", err)
	}
	return nil
}
