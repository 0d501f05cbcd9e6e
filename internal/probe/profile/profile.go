// Package profile provides the probe types that sample through perf events
// on every online CPU: profile:UNIT:N (a cpu-clock timer firing N times a
// second, or every N s, ms or us), software:EVENT[:COUNT] (a kernel software
// counter, sampled every COUNT occurrences) and hardware:EVENT[:COUNT] (a CPU
// performance counter). Each instance opens one perf event per CPU and links
// the same perf_event program to all of them; event names, aliases and
// default counts are bpftrace's.
package profile

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// Profile is the profile probe type.
type Profile struct{}

// Names implements probe.Provider.
func (Profile) Names() []string { return []string{"profile", "p"} }

// nanoseconds per profile unit; hz is a frequency instead.
var units = map[string]uint64{"s": 1e9, "ms": 1e6, "us": 1e3}

// Expand implements probe.Provider.
func (Profile) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	unit, count, ok := strings.Cut(spec, ":")
	n, valid := parseCount(count)
	if !ok || !valid || n == 0 {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("profile %q must be UNIT:N with N a positive integer", spec),
			Hints: []string{"for example profile:hz:99 or profile:ms:10"},
		}
	}
	attr := perfAttr(unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK)
	in := &instance{name: "profile:" + unit + ":" + count, attr: attr}
	if unit == "hz" {
		// A frequency, as perf record -F: the kernel turns it into a
		// cpu-clock period, within kernel.perf_event_max_sample_rate.
		in.attr.Bits |= unix.PerfBitFreq
		in.attr.Sample = n
		in.hz = n
		return []probe.Instance{in}, nil
	}
	ns, ok := units[unit]
	if !ok {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("unknown profile unit %q", unit),
			Hints: []string{"units: hz, s, ms, us"},
		}
	}
	hi, period := bits.Mul64(n, ns)
	if hi != 0 {
		return nil, &probe.Error{Msg: fmt.Sprintf("profile:%s is too long a period", spec)}
	}
	in.attr.Sample = period
	return []probe.Instance{in}, nil
}

// Probes implements probe.Provider; profile rates are not enumerable.
func (Profile) Probes(string, *probe.Env) ([]probe.Listing, error) { return nil, nil }

// event is a named perf counter.
type event struct {
	name, alias string
	config      uint64
	period      uint64 // sampled every this many occurrences unless the probe says
}

// Software is the software probe type.
type Software struct{}

// Names implements probe.Provider.
func (Software) Names() []string { return []string{"software", "s"} }

var softwareEvents = []event{
	{"alignment-faults", "", unix.PERF_COUNT_SW_ALIGNMENT_FAULTS, 1},
	{"bpf-output", "", unix.PERF_COUNT_SW_BPF_OUTPUT, 1},
	{"context-switches", "cs", unix.PERF_COUNT_SW_CONTEXT_SWITCHES, 1000},
	{"cpu-clock", "cpu", unix.PERF_COUNT_SW_CPU_CLOCK, 1000000},
	{"cpu-migrations", "", unix.PERF_COUNT_SW_CPU_MIGRATIONS, 1},
	{"dummy", "", unix.PERF_COUNT_SW_DUMMY, 1},
	{"emulation-faults", "", unix.PERF_COUNT_SW_EMULATION_FAULTS, 1},
	{"major-faults", "", unix.PERF_COUNT_SW_PAGE_FAULTS_MAJ, 1},
	{"minor-faults", "", unix.PERF_COUNT_SW_PAGE_FAULTS_MIN, 100},
	{"page-faults", "faults", unix.PERF_COUNT_SW_PAGE_FAULTS, 100},
	{"task-clock", "", unix.PERF_COUNT_SW_TASK_CLOCK, 1},
}

// Expand implements probe.Provider.
func (Software) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	return expandCounter("software", unix.PERF_TYPE_SOFTWARE, softwareEvents, spec)
}

// Probes implements probe.Provider.
func (Software) Probes(string, *probe.Env) ([]probe.Listing, error) {
	return listing("software", softwareEvents), nil
}

// Hardware is the hardware probe type.
type Hardware struct{}

// Names implements probe.Provider.
func (Hardware) Names() []string { return []string{"hardware", "h"} }

var hardwareEvents = []event{
	{"backend-stalls", "", unix.PERF_COUNT_HW_STALLED_CYCLES_BACKEND, 1000000},
	{"branch-instructions", "branches", unix.PERF_COUNT_HW_BRANCH_INSTRUCTIONS, 100000},
	{"branch-misses", "", unix.PERF_COUNT_HW_BRANCH_MISSES, 100000},
	{"bus-cycles", "", unix.PERF_COUNT_HW_BUS_CYCLES, 100000},
	{"cache-misses", "", unix.PERF_COUNT_HW_CACHE_MISSES, 1000000},
	{"cache-references", "", unix.PERF_COUNT_HW_CACHE_REFERENCES, 1000000},
	{"cpu-cycles", "cycles", unix.PERF_COUNT_HW_CPU_CYCLES, 1000000},
	{"frontend-stalls", "", unix.PERF_COUNT_HW_STALLED_CYCLES_FRONTEND, 1000000},
	{"instructions", "", unix.PERF_COUNT_HW_INSTRUCTIONS, 1000000},
	{"ref-cycles", "", unix.PERF_COUNT_HW_REF_CPU_CYCLES, 1000000},
}

// Expand implements probe.Provider.
func (Hardware) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	return expandCounter("hardware", unix.PERF_TYPE_HARDWARE, hardwareEvents, spec)
}

// Probes implements probe.Provider.
func (Hardware) Probes(string, *probe.Env) ([]probe.Listing, error) {
	return listing("hardware", hardwareEvents), nil
}

// listing shows each event as bpftrace -l does, with an empty count:
// "software:cpu-clock:".
func listing(provider string, events []event) []probe.Listing {
	out := make([]probe.Listing, len(events))
	for i, e := range events {
		out[i] = probe.Listing{Name: provider + ":" + e.name + ":"}
	}
	return out
}

// expandCounter resolves EVENT[:COUNT] of a software or hardware probe.
// EVENT may be an alias or a wildcard pattern over the canonical names.
func expandCounter(provider string, typ uint32, events []event, spec string) ([]probe.Instance, error) {
	name, count, hasCount := strings.Cut(spec, ":")
	var period uint64
	if hasCount {
		n, ok := parseCount(count)
		if !ok {
			return nil, &probe.Error{
				Msg:   fmt.Sprintf("%s:%s: the count %q is not a non-negative integer", provider, spec, count),
				Hints: []string{"for example " + provider + ":" + events[0].name + ":1000 or :1e6"},
			}
		}
		period = n
	}
	wild := glob.HasMeta(name)
	if wild {
		if err := probe.CheckPattern(provider+":"+spec, name); err != nil {
			return nil, err
		}
	}
	var matched []event
	for _, e := range events {
		if name == e.name || e.alias != "" && name == e.alias || wild && glob.Match(name, e.name) {
			matched = append(matched, e)
		}
	}
	if len(matched) == 0 {
		var names []string
		for _, e := range events {
			names = append(names, e.name)
			if e.alias != "" {
				names = append(names, e.alias)
			}
		}
		e := &probe.Error{Msg: fmt.Sprintf("%q is not a %s event", name, provider)}
		if name == "" {
			e.Msg = fmt.Sprintf("%s probes need an event name", provider)
		}
		e.Suggest(name, names)
		e.Hints = append(e.Hints, "list them with: ebtrace -l '"+provider+":*'")
		return nil, e
	}
	out := make([]probe.Instance, len(matched))
	for i, e := range matched {
		in := &instance{name: provider + ":" + e.name, attr: perfAttr(typ, e.config), hardware: typ == unix.PERF_TYPE_HARDWARE}
		if hasCount {
			in.name += ":" + count
		}
		// bpftrace treats a count of 0 as none given.
		in.attr.Sample = period
		if period == 0 {
			in.attr.Sample = e.period
		}
		out[i] = in
	}
	return out, nil
}

// parseCount parses a count as bpftrace writes them: decimal digits,
// optionally followed by a decimal exponent (1e6).
func parseCount(s string) (uint64, bool) {
	mant, exp, hasExp := strings.Cut(s, "e")
	if !allDigits(mant) || hasExp && !allDigits(exp) {
		return 0, false
	}
	n, err := strconv.ParseUint(mant, 10, 64)
	if err != nil {
		return 0, false
	}
	if !hasExp || n == 0 {
		return n, true
	}
	e, err := strconv.Atoi(exp)
	if err != nil {
		return 0, false
	}
	for ; e > 0; e-- {
		if n > math.MaxUint64/10 {
			return 0, false
		}
		n *= 10
	}
	return n, true
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func perfAttr(typ uint32, config uint64) unix.PerfEventAttr {
	return unix.PerfEventAttr{
		Type:   typ,
		Config: config,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
	}
}

type instance struct {
	name     string
	attr     unix.PerfEventAttr
	hz       uint64 // profile:hz rate, checked against the kernel's limit
	hardware bool
}

func (i *instance) Name() string           { return i.name }
func (i *instance) Kind() probe.Kind       { return probe.Event }
func (i *instance) Program() probe.Program { return probe.Program{Type: ebpf.PerfEvent} }

func (i *instance) Builtin(string) (probe.Arg, bool) { return probe.Arg{}, false }

func (i *instance) Arg(string) (probe.Arg, error) {
	return probe.Arg{}, &probe.Error{Msg: strings.SplitN(i.name, ":", 2)[0] + " probes have no args"}
}

// maxSampleRate is where the kernel publishes the highest sampling
// frequency it accepts; it lowers the value itself when sampling
// interrupts take too long.
const maxSampleRate = "/proc/sys/kernel/perf_event_max_sample_rate"

// Available checks what perf_event_open would refuse: a frequency above
// the kernel's limit, and hardware counters the machine lacks (virtual
// machines often expose none).
func (i *instance) Available() error {
	if i.hz > 0 {
		b, err := os.ReadFile(maxSampleRate)
		if err != nil {
			return nil
		}
		max, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && i.hz > max {
			return probe.Unavailablef("%s samples more often than the kernel allows (kernel.perf_event_max_sample_rate is %d); lower the rate", i.name, max)
		}
		return nil
	}
	if !i.hardware {
		return nil
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return err
	}
	fd, err := unix.PerfEventOpen(&i.attr, -1, cpus[0], -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if missingCounter(err) {
		return probe.Unavailablef("%s needs a CPU performance counter that this machine does not provide (perf_event_open: %w); sample with software:cpu-clock or profile:hz:99 instead", i.name, err)
	}
	return nil
}

// missingCounter reports whether perf_event_open failed because no PMU
// implements the event, rather than for lack of privileges or resources.
func missingCounter(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODEV)
}

// Attach opens the event on every online CPU and links prog to each.
func (i *instance) Attach(prog *ebpf.Program) (io.Closer, error) {
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", i.name, err)
	}
	return attachPerCPU(i.name, &i.attr, cpus, prog)
}

// attachPerCPU opens attr on each of cpus, for every process, and links
// prog to each event; on failure it releases what it opened.
func attachPerCPU(name string, attr *unix.PerfEventAttr, cpus []int, prog *ebpf.Program) (io.Closer, error) {
	var links probe.Links
	for _, cpu := range cpus {
		l, err := probe.AttachPerfEvent(attr, cpu, prog)
		if err != nil {
			links.Close()
			if attr.Type == unix.PERF_TYPE_HARDWARE && missingCounter(err) {
				err = fmt.Errorf("%w: %w", err, ebpf.ErrNotSupported)
			}
			return nil, fmt.Errorf("attach %s: %w", name, err)
		}
		links = append(links, l)
	}
	return links, nil
}

// onlineCPUs lists the CPUs the kernel has online.
func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("online CPUs: %w", err)
	}
	cpus, err := parseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("online CPUs: %w", err)
	}
	return cpus, nil
}

// maxCPUs bounds a CPU list, so a corrupt one cannot exhaust memory.
const maxCPUs = 1 << 16

// parseCPUList parses the kernel's CPU list format: "0-3,5,7-8".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		last := first
		if err == nil && isRange {
			last, err = strconv.Atoi(hi)
		}
		if err != nil || first < 0 || last < first || last >= maxCPUs || len(cpus)+last-first >= maxCPUs {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
