package record

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// The programs of both paths pass the verifier for events with and
// without __data_loc fields, keeping one process or all but one, around a
// filter body with several exits.
func TestProgramsLoad(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	events, _, err := kernel.Live()
	if err != nil {
		t.Fatal(err) // RequireTracefs found it
	}
	formats, err := Formats(events, []string{"syscalls:sys_enter_write", "sched:sched_process_exec", "sched:sched_switch"})
	if err != nil {
		t.Fatal(err)
	}
	// count >= 1000 keeps the event; two exits, as filter.Compile emits.
	body := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 16, asm.DWord),
		asm.JGE.Imm(asm.R2, 1000, "keep"),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("keep"),
		asm.Return(),
	}
	ringbuf, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	defer ringbuf.Close()
	lost, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer lost.Close()
	for _, f := range formats {
		for _, check := range []processCheck{{pid: 1234}, {pid: 1234, only: true}} {
			p, err := loadProgram(perfFilter(body, check))
			if err != nil {
				t.Errorf("%s perf program, %+v: %v", f.Tracepoint, check, err)
			} else {
				p.Close()
			}
			insns, err := ringProgram(f, body, check, ringbuf, lost)
			if err != nil {
				t.Fatal(err)
			}
			if p, err = loadProgram(insns); err != nil {
				t.Errorf("%s ring program, %+v: %v", f.Tracepoint, check, err)
			} else {
				p.Close()
			}
		}
	}
}

func TestUnknownEvent(t *testing.T) {
	_, err := Formats(kerneltest.Fake(), []string{"syscalls:sys_enter_openat", "syscalls:sys_enter_opnat"})
	want := "unknown event syscalls:sys_enter_opnat (did you mean syscalls:sys_enter_openat, syscalls:sys_enter_write, syscalls:sys_exit_openat?)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if _, err := Formats(kerneltest.Fake(), []string{"openat"}); err == nil {
		t.Error("an event without a category was accepted")
	}
}

func TestFormatsWildcards(t *testing.T) {
	formats, err := Formats(kerneltest.Fake(), []string{"syscalls:sys_*_getppid", "sched:sched_switch"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range formats {
		names = append(names, f.Tracepoint.String())
	}
	if got := strings.Join(names, " "); got != "syscalls:sys_enter_getppid syscalls:sys_exit_getppid sched:sched_switch" {
		t.Errorf("formats %s", got)
	}
	if _, err := Formats(kerneltest.Fake(), []string{"nope:*"}); !errors.Is(err, ErrUnknownEvent) || err.Error() != "unknown event: nothing matches nope:*" {
		t.Errorf("error %v", err)
	}
}
