package plan

import (
	"fmt"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// printfKinds are the events whose records are a format's arguments.
var printfKinds = map[string]EventKind{
	"printf": Printf, "errorf": Errorf, "warnf": Warnf, "system": System, "cat": Cat,
}

// A HelperError record: the header, the helper's number, its negative
// return value, then the failing site's span in the script (start and
// end offsets, 4 bytes each).
const (
	HelperErrorHelper = EventHeader
	HelperErrorCode   = EventHeader + 8
	HelperErrorSpan   = EventHeader + 16
	HelperErrorSize   = EventHeader + 24
)

// HelperErrorEvent returns the ID of the HelperError event, when -k asked
// for one.
func (p *Plan) HelperErrorEvent() (int, bool) {
	for _, ev := range p.Events {
		if ev.Kind == HelperError {
			return ev.ID, true
		}
	}
	return 0, false
}

// Where formats a span of f as bpftrace prefixes run-time messages:
// "FILE:LINE:COL-COL", the end column exclusive.
func Where(f *source.File, sp source.Span) string {
	line, col := f.Position(sp.Start)
	endLine, endCol := f.Position(sp.End)
	if endLine != line {
		return fmt.Sprintf("%s:%d-%d", f.Name, line, endLine)
	}
	return fmt.Sprintf("%s:%d:%d-%d", f.Name, line, col, endCol)
}

// StackBufferMap is a per-CPU buffer for the frames len(kstack) and
// len(ustack) count, too large for the BPF stack.
const StackBufferMap = "ebtrace_stackbuf"

// stackBufferSize is the StackBufferMap value size the script needs: room
// for the deepest stack len() counts.
func stackBufferSize(info *check.Info) int {
	size := 0
	for _, in := range info.Instances {
		syntax.Inspect(in.Probe.Body, func(n syntax.Node) bool {
			if call, ok := n.(*syntax.CallExpr); ok && call.Fun == "len" && len(call.Args) == 1 {
				if t := in.Types[call.Args[0]]; t.Kind == types.Stack {
					size = max(size, 8*t.StackDepth)
				}
			}
			return true
		})
	}
	return size
}
