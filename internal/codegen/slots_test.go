package codegen_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// compileSlots compiles script with count slots, the kernel's answer
// being slotsErr.
func compileSlots(t *testing.T, script string, slotsErr error) *compile.Result {
	t.Helper()
	opts := compile.Options{Plan: plan.DefaultOptions, CPUs: 2, CountSlots: func() error { return slotsErr }}
	opts.Plan.CountSlots = true
	return tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), script, opts)
}

func slotted(r *compile.Result) []string {
	var names []string
	for _, m := range r.Plan.Maps {
		if m.Slotted {
			names = append(names, "@"+m.Name)
		}
	}
	return names
}

// Only count() and sum() maps that nothing in the kernel reads get slots.
func TestCountSlotsWhich(t *testing.T) {
	const tp = "tracepoint:raw_syscalls:sys_enter "
	for _, c := range []struct{ script, want string }{
		{tp + `{ @[comm] = count(); @n = count(); }`, "@ @n"},
		{tp + `{ @n = count(); } interval:s:1 { print(@n); clear(@n); zero(@n); }`, "@n"},
		{tp + `{ @s = sum(1); @h = hist(2); @a = avg(1); @lo = min(1); }`, "@s"},
		{tp + `{ @n = count(); if (@n > 3) { exit(); } }`, ""},
		{tp + `{ @n[pid] = count(); delete(@n[pid]); }`, ""},
		{tp + `{ @n[pid] = count(); } END { for ($kv : @n) { printf("%d\n", $kv.1); } }`, ""},
		{tp + `{ @n[pid] = count(); print(@n[pid]); }`, ""},
		{tp + `{ @n = count(); @m = @n; }`, ""},
		{`let @l = lruhash(10); ` + tp + `{ @l[pid] = count(); }`, ""},
		{tp + `{ @big[comm, comm, pid] = count(); @p[probe] = count(); @small[cpu] = count(); }`, "@small"},
	} {
		r := compileSlots(t, c.script, nil)
		if got := strings.Join(slotted(r), " "); got != c.want {
			t.Errorf("%s: slots for %q, want %q", c.script, got, c.want)
		}
		if (r.Flush != nil) != (c.want != "") || (r.Plan.SlotStride == 0) != (c.want == "") {
			t.Errorf("%s: flush program %v, stride %d", c.script, r.Flush != nil, r.Plan.SlotStride)
		}
	}
	var many strings.Builder
	for i := range 70 {
		fmt.Fprintf(&many, "%s{ @c%02d = count(); }\n", tp, i)
	}
	r := compileSlots(t, many.String(), nil)
	if got := slotted(r); len(got) != 60 || got[59] != "@c59" {
		t.Errorf("slots for %d maps (%v), want the first 60: the flush program uses each", len(got), got)
	}
	r = compileSlots(t, tp+`{ @n = count(); }`, errors.New("no"))
	if got := slotted(r); len(got) != 0 || r.Flush != nil {
		t.Errorf("slots %v on a kernel without them", got)
	}
}

// An event of a slotted map takes the CPU's slot and calls no map helper
// when the key is the slot's; the flush program moves each slot.
func TestCountSlotsCode(t *testing.T) {
	r := compileSlots(t, `tracepoint:raw_syscalls:sys_enter { @[comm] = count(); @n = count(); }`, nil)
	got := calls(r.Programs[0].Insns)
	want := "FnGetSmpProcessorId FnMapLookupElem FnMapUpdateElem FnMapLookupElem FnMapUpdateElem " +
		"FnGetSmpProcessorId FnMapLookupElem FnMapUpdateElem FnMapLookupElem FnMapUpdateElem"
	if !strings.HasSuffix(got, want) {
		t.Errorf("calls %q, want them to end %q", got, want)
	}
	if r.Plan.SlotStride != 64 || r.Plan.Maps[0].Slot != 0 || r.Plan.Maps[1].Slot != 32 {
		t.Errorf("stride %d, slots at %d and %d; want 64, 0 and 32", r.Plan.SlotStride, r.Plan.Maps[0].Slot, r.Plan.Maps[1].Slot)
	}
	// A sum's slot also counts its events, before the key.
	sums := compileSlots(t, `tracepoint:raw_syscalls:sys_enter { @b[comm] = sum(2); @n = count(); }`, nil)
	if b, n := sums.Plan.Map("b"), sums.Plan.Map("n"); b.Slot != 0 || b.SlotKeyAt() != 24 || n.Slot != 40 || n.SlotKeyAt() != 16 || sums.Plan.SlotStride != 64 {
		t.Errorf("slots at %d (key at %d) and %d (key at %d), stride %d; want 0 (24), 40 (16), 64", b.Slot, b.SlotKeyAt(), n.Slot, n.SlotKeyAt(), sums.Plan.SlotStride)
	}
	if got, want := calls(r.Flush), "FnGetSmpProcessorId FnMapLookupElem FnMapUpdateElem FnMapLookupElem FnMapUpdateElem"; got != want {
		t.Errorf("flush calls %q, want %q", got, want)
	}
	xchgs := slices.IndexFunc(r.Flush, func(ins asm.Instruction) bool { return ins.Constant == 0xe1 })
	if xchgs < 0 {
		t.Errorf("the flush program exchanges no slot total:\n%v", r.Flush)
	}
}
