// Package interval provides interval:UNIT:N probes, which fire on one CPU
// every N units of time (s, ms, us) or N times a second (hz). They run as
// perf_event programs on a software cpu-clock event.
package interval

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/probe"
)

// Provider is the interval probe type.
type Provider struct{}

// Names implements probe.Provider.
func (Provider) Names() []string { return []string{"interval", "i"} }

var units = map[string]time.Duration{"s": time.Second, "ms": time.Millisecond, "us": time.Microsecond}

// Expand implements probe.Provider.
func (Provider) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	unit, count, ok := strings.Cut(spec, ":")
	n, err := strconv.ParseUint(count, 10, 32)
	if !ok || err != nil || n == 0 {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("interval %q must be UNIT:N with N a positive integer", spec),
			Hints: []string{"for example interval:s:1 or interval:ms:100"},
		}
	}
	var period time.Duration
	if unit == "hz" {
		period = time.Second / time.Duration(n)
	} else if d, ok := units[unit]; ok {
		period = d * time.Duration(n)
	} else {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("unknown interval unit %q", unit),
			Hints: []string{"units: s, ms, us, hz"},
		}
	}
	if period < time.Microsecond {
		return nil, &probe.Error{Msg: fmt.Sprintf("interval:%s is more often than once a microsecond", spec)}
	}
	return []probe.Instance{&instance{name: "interval:" + unit + ":" + count, period: period}}, nil
}

// Probes implements probe.Provider; intervals are not enumerable.
func (Provider) Probes(string, *probe.Env) ([]probe.Listing, error) { return nil, nil }

type instance struct {
	name   string
	period time.Duration
}

func (i *instance) Name() string { return i.name }

// Period is the time between runs: a replay runs the program on the
// recording's clock.
func (i *instance) Period() time.Duration { return i.period }

func (i *instance) Kind() probe.Kind       { return probe.Event }
func (i *instance) Program() probe.Program { return probe.Program{Type: ebpf.PerfEvent} }
func (i *instance) Available() error       { return nil }

func (i *instance) Builtin(string) (probe.Arg, bool) { return probe.Arg{}, false }

func (i *instance) Arg(string) (probe.Arg, error) {
	return probe.Arg{}, &probe.Error{Msg: "interval probes have no args"}
}

// Attach opens a cpu-clock event on CPU 0 and links prog to it.
func (i *instance) Attach(prog *ebpf.Program) (io.Closer, error) {
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample: uint64(i.period.Nanoseconds()),
	}
	l, err := probe.AttachPerfEvent(&attr, 0, prog)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", i.name, err)
	}
	return l, nil
}
