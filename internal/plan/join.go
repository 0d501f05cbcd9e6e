package plan

import (
	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// joinEvent lays out the record of a join() call: how many elements were
// read, then check.JoinArgs string slots of check.JoinArgSize bytes. The record
// is built in the ring buffer itself, so its size is not bound by the BPF
// stack.
func joinEvent(ev *Event, call *syntax.CallExpr) {
	ev.Kind, ev.Sep = Join, " "
	if len(call.Args) == 2 {
		ev.Sep = call.Args[1].(*syntax.StringLit).Value
	}
	ev.Args = append(ev.Args, Part{Offset: ev.Size, Type: types.UInt64})
	ev.Size += 8
	slot := types.String(check.JoinArgSize)
	for range check.JoinArgs {
		ev.Args = append(ev.Args, Part{Offset: ev.Size, Type: slot})
		ev.Size += PartSize(slot)
	}
}
