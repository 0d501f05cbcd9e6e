package tracer

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/types"
)

// escapeBuffer renders a buf() part as bpftrace's %r does: printable ASCII
// as is, every other byte as \xNN.
func escapeBuffer(b []byte, t types.Type) string {
	n := int(min(binary.LittleEndian.Uint64(b), uint64(t.Size), uint64(len(b)-8)))
	var s strings.Builder
	for _, c := range b[8 : 8+n] {
		if c >= 0x20 && c <= 0x7e {
			s.WriteByte(c)
		} else {
			fmt.Fprintf(&s, `\x%02x`, c)
		}
	}
	return s.String()
}

// bootToWall is the wall-clock time of boot: adding nanoseconds since boot
// gives the time of day. It is measured once, so that every timestamp of a
// run shares one base even if the clock is set meanwhile.
var bootToWall = sync.OnceValue(func() time.Time {
	var boot unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot)
	return time.Now().Add(-time.Duration(boot.Nano()))
})

// formatTime renders a strftime() part: nanoseconds since boot as local
// wall-clock time in the part's format.
func formatTime(b []byte, t types.Type) string {
	ns := binary.LittleEndian.Uint64(b)
	return printf.FormatTime(t.TimeFormat, bootToWall().Add(time.Duration(ns)).Local())
}

// joined renders a join() record: the elements read, separated.
func joined(raw []byte, ev *plan.Event) string {
	n := int(binary.LittleEndian.Uint64(raw[ev.Args[0].Offset:]))
	elems := make([]string, 0, n)
	for _, a := range ev.Args[1:min(1+n, len(ev.Args))] {
		elems = append(elems, decode(raw[a.Offset:], a.Type).(string))
	}
	return strings.Join(elems, ev.Sep)
}

// decodeArray reads the elements of an integer array, each extended as its
// type says.
func decodeArray(b []byte, t types.Type) output.Array {
	n := t.Size / t.Len
	out := make(output.Array, t.Len)
	for i := range out {
		var word [8]byte
		copy(word[:], b[i*n:(i+1)*n])
		v := binary.LittleEndian.Uint64(word[:])
		if t.Signed {
			shift := 64 - 8*n
			out[i] = int64(v<<shift) >> shift
		} else {
			out[i] = v
		}
	}
	return out
}
