package plan

import (
	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// Count slots. A count() or sum() map costs a hash lookup per event, which
// touches the map, a bucket, an element and a per-CPU value: on a kernel
// whose TLB every syscall flushes, each is a page walk. Most events repeat
// the previous event's key on the same CPU (one process's syscalls, one
// thread's page faults), so each CPU keeps, per such map, a slot with the
// last key and the total added to it since: an event with that key adds to
// the slot, one word of a small array in the kernel's direct map, and
// moves the slot's total into the map only when its key changes. User
// space has every CPU move its slots into the maps (FlushProgram, run on
// each CPU) before it reads or resets one, so it reads the maps as before.
//
// A map gets slots only when every use of it is a `= count()` or `= sum()`
// assignment, or print(), clear() or zero() of the whole map in user
// space: nothing in the kernel reads it.

// SlotsMap is the array whose only value holds every CPU's slots: CPU c's
// start at c * Plan.SlotStride.
const SlotsMap = "ebtrace_slots"

// FlushProgram moves the slots of the CPU it runs on into their maps. It
// returns 1, having moved nothing of a slot, when it interrupted a program
// that was changing that slot's key; the caller runs it again.
const FlushProgram = "ebtrace_flush"

// Slot layout, from a map's Slot offset.
const (
	// SlotSeq is odd while a program changes the slot's key or moves its
	// total into the map: a program that interrupts it (in an interrupt
	// or NMI on the same CPU) then updates the map directly.
	SlotSeq     = 0
	SlotPending = 8 // the total added under the key since it was moved
	// SlotEvents, for sum(), counts the events in the total: what the
	// map's stat counts when the map is full and the total is lost. (A
	// count's total is its events.) The key follows (SlotKeyAt).
	SlotEvents = 16
	// maxSlotKey bounds the keys that get slots: an event compares its
	// key with the slot's word by word, and a wildcard's hundreds of
	// programs each carry that code. (The 64 bytes of @[probe], which
	// changes from event to event on a wildcard, are over the bound.)
	maxSlotKey = 32
	// slotAlign keeps each CPU's slots on cache lines of their own.
	slotAlign = 64
	// maxSlotted bounds the maps with slots: FlushProgram uses each, with
	// SlotsMap and StatsMap, and a program may use at most 64 maps.
	maxSlotted = 60
)

// planSlots gives a slot to each map of info that may have one.
func (p *Plan) planSlots(info *check.Info) {
	eligible := map[string]bool{}
	for _, m := range p.Maps {
		if (m.Kind == output.Count || m.Kind == output.Sum) && m.Type == "percpu_hash" && m.KeySize <= maxSlotKey {
			eligible[m.Name] = true
		}
	}
	// Map expressions that are a use slots allow, and every map named
	// anywhere else.
	allowed := map[*syntax.MapExpr]bool{}
	for _, in := range info.Instances {
		syntax.Inspect(in.Probe, func(n syntax.Node) bool {
			switch n := n.(type) {
			case *syntax.AssignStmt:
				target, ok := n.Target.(*syntax.MapExpr)
				call, isCall := n.Value.(*syntax.CallExpr)
				if ok && isCall && n.Op == "=" && (call.Fun == "count" || call.Fun == "sum") {
					allowed[target] = true
				}
			case *syntax.CallExpr:
				if n.Fun == "print" || n.Fun == "clear" || n.Fun == "zero" {
					if m, ok := firstArg(n).(*syntax.MapExpr); ok && m.Keys == nil {
						allowed[m] = true
					}
				}
			case *syntax.MapExpr:
				if !allowed[n] {
					delete(eligible, n.Name)
				}
			}
			return true
		})
	}
	stride, slotted := 0, 0
	for _, m := range p.Maps {
		if !eligible[m.Name] || slotted == maxSlotted {
			continue
		}
		slotted++
		m.Slotted, m.Slot = true, stride
		stride += m.SlotKeyAt() + m.KeySize
	}
	p.SlotStride = (stride + slotAlign - 1) / slotAlign * slotAlign
}

// DropSlots takes every map's slot away, for a kernel that cannot run
// FlushProgram.
func (p *Plan) DropSlots() {
	for _, m := range p.Maps {
		m.Slotted, m.Slot = false, 0
	}
	p.SlotStride = 0
}

// SlotKeyAt is where m's slot keeps its key, from the slot's start.
func (m *Map) SlotKeyAt() int {
	if m.Kind == output.Sum {
		return SlotEvents + 8
	}
	return SlotEvents
}

func firstArg(call *syntax.CallExpr) syntax.Expr {
	if len(call.Args) == 0 {
		return nil
	}
	return call.Args[0]
}

// SlotsSize is the size of SlotsMap's value: every possible CPU's slots.
func (p *Plan) SlotsSize() int { return p.SlotCPUs * p.SlotStride }
