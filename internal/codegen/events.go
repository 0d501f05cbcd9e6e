package codegen

import (
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/emit"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// Calls and events: the records sent through the ring buffer for printf,
// print, exit and the other functions user space acts on.

// Ring-buffer flags and query selectors (include/uapi/linux/bpf.h).
const (
	rbNoWakeup    = 1
	rbForceWakeup = 2
	rbAvailData   = 0
)

// call compiles the non-aggregating functions.
func (g *gen) call(e *syntax.CallExpr) {
	switch e.Fun {
	case "printf":
		g.printf(e)
	case "exit":
		g.event(e, func(ev *plan.Event, buf int16) {
			if len(e.Args) == 1 {
				g.intExpr(e.Args[0])
				g.Emit(asm.StoreMem(asm.R10, buf+int16(ev.Args[0].Offset), asm.R0, asm.DWord))
			}
		}, true)
		g.returnProbe()
	case "assert":
		held := g.NewLabel("held")
		g.intExpr(e.Args[0])
		g.Emit(asm.JNE.Imm(asm.R0, 0, held))
		g.event(e, func(ev *plan.Event, buf int16) {
			g.valueTo(e.Args[1], buf+int16(ev.Args[0].Offset), ev.Args[0].Type)
		}, true)
		g.returnProbe()
		g.Label(held)
	case "print":
		if ev, ok := g.plan.Sites[plan.Site{Instance: g.idx, Call: e}]; ok && g.plan.Events[ev].Kind == plan.PrintValue {
			g.printValue(e)
			return
		}
		g.event(e, nil, true)
	case "clear", "zero":
		g.event(e, nil, true)
	case "errorf", "warnf", "system", "cat":
		g.printf(e)
	case "join":
		g.join(e)
	case "has_key":
		x := e.Args[0].(*syntax.MapExpr)
		m := g.plan.Map(x.Name)
		key := g.key(&syntax.MapExpr{Name: x.Name, Keys: e.Args[1:], Sp: e.Sp}, m)
		g.lookup(m, key)
		g.truth(asm.JNE)
	case "find":
		g.find(e)
	case "len":
		if x, ok := e.Args[0].(*syntax.MapExpr); ok {
			g.mapLength(g.plan.Map(x.Name))
			return
		}
		g.stackLength(g.typeOf(e.Args[0]))
	case "delete":
		x := e.Args[0].(*syntax.MapExpr)
		m := g.plan.Map(x.Name)
		key := g.key(x, m)
		g.Emit(mapPtr(asm.R1, m.BPFName))
		g.stackPtr(asm.R2, key)
		g.Emit(asm.FnMapDeleteElem.Call())
		g.truth(asm.JEq) // 0: the key was there
	default:
		g.libraryCall(e)
	}
}

func (g *gen) printf(e *syntax.CallExpr) {
	g.event(e, func(ev *plan.Event, buf int16) {
		for i, a := range e.Args[1:] {
			part := ev.Args[i]
			g.valueTo(a, buf+int16(part.Offset), part.Type)
		}
	}, false)
}

// event builds the record of call site e on the stack (header, then what
// fill writes, if anything) and sends it through the ring buffer. An urgent
// record wakes the reader at once; others only once a quarter of the ring
// is queued, the reader polling on a short timer otherwise. A record the
// ring refuses is counted as lost.
func (g *gen) event(e *syntax.CallExpr, fill func(ev *plan.Event, buf int16), urgent bool) {
	id, ok := g.plan.Sites[plan.Site{Instance: g.idx, Call: e}]
	if !ok {
		return
	}
	ev := g.plan.Events[id]
	buf := g.alloc(ev.Size)
	g.Emit(emit.StoreDW(asm.R10, buf, int64(id)))
	if fill != nil {
		fill(ev, buf)
	}
	if !urgent {
		quiet := g.NewLabel("quiet")
		g.Emit(
			mapPtr(asm.R1, plan.EventsMap),
			asm.Mov.Imm(asm.R2, rbAvailData),
			asm.FnRingbufQuery.Call(),
			asm.Mov.Imm(asm.R4, rbNoWakeup),
			asm.LoadImm(asm.R1, int64(g.plan.WakeupSize), asm.DWord),
			asm.JLT.Reg(asm.R0, asm.R1, quiet),
			asm.Mov.Imm(asm.R4, rbForceWakeup),
		)
		g.Label(quiet)
	} else {
		g.Emit(asm.Mov.Imm(asm.R4, rbForceWakeup))
	}
	sent := g.NewLabel("sent")
	g.Emit(mapPtr(asm.R1, plan.EventsMap))
	g.stackPtr(asm.R2, buf)
	g.Emit(
		asm.Mov.Imm(asm.R3, int32(ev.Size)),
		asm.FnRingbufOutput.Call(),
		asm.JEq.Imm(asm.R0, 0, sent),
	)
	g.countStat(plan.StatLost)
	g.Label(sent)
}

// fetchAdd atomically adds src to *dst and leaves the old value in src.
// cilium/ebpf v0.22's Marshal writes an atomic instruction's immediate from
// Constant as it was before it derives the atomic op, so the BPF_FETCH bit
// is lost unless Constant already holds it.
func fetchAdd(dst, src asm.Register) asm.Instruction {
	ins := asm.FetchAdd.Mem(dst, src, asm.DWord, 0)
	ins.Constant = int64(asm.FetchAdd >> 8)
	return ins
}
