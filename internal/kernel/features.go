package kernel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// WriteInfo prints, for --info, what the running kernel offers ebtrace:
// its release, the BPF program types, map types and helpers ebtrace uses,
// and whether each kind of probe can attach. Everything is probed live
// (BPF answers by loading tiny programs and maps through cilium/ebpf's
// features package), so without root most answers are "unknown".
func WriteInfo(w io.Writer) error {
	return writeInfo(w, gatherInfo())
}

// infoSection is a titled group of answers.
type infoSection struct {
	title string
	lines []infoLine
}

type infoLine struct{ name, value string }

// writeInfo prints the sections with every value in one column.
func writeInfo(w io.Writer, sections []infoSection) error {
	width := 0
	for _, s := range sections {
		for _, l := range s.lines {
			width = max(width, len(l.name)+1)
		}
	}
	var b strings.Builder
	for i, s := range sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s.title + "\n")
		for _, l := range s.lines {
			fmt.Fprintf(&b, "  %-*s %s\n", width, l.name+":", l.value)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func gatherInfo() []infoSection {
	hasBTF := btfAnswer()
	return []infoSection{
		{"System", []infoLine{
			{"kernel", release()},
			{"architecture", machine()},
			{"BTF (vmlinux)", hasBTF},
			{"lockdown", lockdown()},
		}},
		{"BPF", []infoLine{
			{"ring buffer", answer(features.HaveMapType(ebpf.RingBuf))},
			{"bounded loops", answer(features.HaveBoundedLoops())},
			{"1M instructions", answer(features.HaveLargeInstructions())},
		}},
		{"Program types", programTypes()},
		{"Map types", mapTypes()},
		{"Helpers (in kprobe programs)", helpers()},
		{"Probe types", probeTypes(hasBTF == "yes")},
	}
}

// answer turns a probe's result into yes, no or unknown with the reason.
func answer(err error) string {
	switch {
	case err == nil:
		return "yes"
	case errors.Is(err, ebpf.ErrNotSupported):
		return "no"
	}
	return "unknown (" + reason(err) + ")"
}

// reason is the kernel's errno when there is one: cilium/ebpf decorates
// EPERM with a memlock hint that is wrong on kernels charging BPF memory
// to the memory cgroup.
func reason(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

func release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown (" + reason(err) + ")"
	}
	return unix.ByteSliceToString(u.Release[:]) + " (" + unix.ByteSliceToString(u.Version[:]) + ")"
}

func machine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown (" + reason(err) + ")"
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func btfAnswer() string {
	_, err := BTF.Kernel()
	if errors.Is(err, ebpf.ErrNotSupported) {
		return "no"
	}
	return answer(err)
}

// lockdownFile shows the kernel lockdown modes with the active one in
// brackets: "none [integrity] confidentiality".
const lockdownFile = "/sys/kernel/security/lockdown"

func lockdown() string {
	if mode := CurrentAccess().Lockdown; mode != "" {
		return mode
	}
	return "unknown (" + lockdownFile + " is unreadable)"
}

func parseLockdown(s string) string {
	for _, mode := range strings.Fields(s) {
		if m, ok := strings.CutPrefix(mode, "["); ok {
			return strings.TrimSuffix(m, "]")
		}
	}
	return "unknown (" + strings.TrimSpace(s) + ")"
}

func programTypes() []infoLine {
	var out []infoLine
	for _, p := range []struct {
		name string
		typ  ebpf.ProgramType
	}{
		{"kprobe", ebpf.Kprobe},
		{"tracepoint", ebpf.TracePoint},
		{"perf_event", ebpf.PerfEvent},
		{"raw_tracepoint", ebpf.RawTracepoint},
		{"syscall", ebpf.Syscall},
	} {
		out = append(out, infoLine{p.name, answer(features.HaveProgramType(p.typ))})
	}
	return append(out, infoLine{"tracing", tracing()})
}

// tracing answers for the program type of fentry, fexit and tp_btf. The
// features package asks with an fentry program, which lockdown may forbid
// where tp_btf programs load.
func tracing() string {
	if loadTrivial(tpBTFSpec()) == nil {
		return "yes"
	}
	return answer(features.HaveProgramType(ebpf.Tracing))
}

func mapTypes() []infoLine {
	var out []infoLine
	for _, m := range []struct {
		name string
		typ  ebpf.MapType
	}{
		{"hash", ebpf.Hash},
		{"percpu hash", ebpf.PerCPUHash},
		{"lru hash", ebpf.LRUHash},
		{"lru percpu hash", ebpf.LRUCPUHash},
		{"array", ebpf.Array},
		{"percpu array", ebpf.PerCPUArray},
		{"ringbuf", ebpf.RingBuf},
		{"perf event array", ebpf.PerfEventArray},
		{"stack trace", ebpf.StackTrace},
	} {
		out = append(out, infoLine{m.name, answer(features.HaveMapType(m.typ))})
	}
	return out
}

// helpers are probed in kprobe programs, which have the widest set of
// tracing helpers (get_func_ip among them).
func helpers() []infoLine {
	var out []infoLine
	for _, h := range []struct {
		name string
		fn   asm.BuiltinFunc
	}{
		{"probe_read_user", asm.FnProbeReadUser},
		{"probe_read_user_str", asm.FnProbeReadUserStr},
		{"probe_read_kernel", asm.FnProbeReadKernel},
		{"probe_read_kernel_str", asm.FnProbeReadKernelStr},
		{"get_current_task_btf", asm.FnGetCurrentTaskBtf},
		{"get_current_comm", asm.FnGetCurrentComm},
		{"get_stackid", asm.FnGetStackid},
		{"ktime_get_ns", asm.FnKtimeGetNs},
		{"ringbuf_output", asm.FnRingbufOutput},
		{"ringbuf_reserve", asm.FnRingbufReserve},
		{"ringbuf_query", asm.FnRingbufQuery},
		{"get_func_ip", asm.FnGetFuncIp},
		{"get_attach_cookie", asm.FnGetAttachCookie},
		{"send_signal", asm.FnSendSignal},
	} {
		out = append(out, infoLine{h.name, answer(features.HaveProgramHelper(ebpf.Kprobe, h.fn))})
	}
	return out
}

// probeTypes answers what features cannot: whether each kind of probe can
// be created, which depends on kernel configuration, lockdown and the
// hardware as much as on BPF.
func probeTypes(hasBTF bool) []infoLine {
	tracefs := tracefsAnswer()
	rawtp := answer(features.HaveProgramType(ebpf.RawTracepoint))
	return []infoLine{
		{"kprobe, kretprobe", dynamicProbes("kprobe")},
		{"uprobe, uretprobe, usdt", dynamicProbes("uprobe")},
		{"tracepoint", tracefs},
		{"rawtracepoint", rawtp},
		{"rawtracepoint args (tp_btf)", tpBTF(hasBTF)},
		{"fentry, fexit", fentry()},
		{"software, profile, interval", perfEvent(unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK)},
		{"hardware", perfEvent(unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CPU_CYCLES)},
	}
}

// dynamicProbes says whether the kernel can create kprobes or uprobes: it
// registers a perf PMU for each (4.17 and later) and keeps the older
// tracefs interface, <kind>_events; a kernel built without the feature has
// neither.
func dynamicProbes(kind string) string {
	if HaveDynamicProbes(kind) {
		return "yes"
	}
	return "no (" + MissingProbeConfig(kind) + " is off)"
}

// MissingProbeConfig names the kernel option to blame when kind ("kprobe"
// or "uprobe") events cannot be created: CONFIG_KPROBES when the kernel
// has no register_kprobe at all, else the events option.
func MissingProbeConfig(kind string) string {
	if kind == "kprobe" {
		syms, err := Kallsyms()
		if err == nil && !slices.ContainsFunc(syms, func(s KernelSymbol) bool { return s.Name == "register_kprobe" }) {
			return "CONFIG_KPROBES"
		}
	}
	return "CONFIG_" + strings.ToUpper(kind) + "_EVENTS"
}

// HaveDynamicProbes reports whether the kernel can create kind ("kprobe"
// or "uprobe") events, through its perf PMU (Linux 4.17+) or tracefs's
// kind_events file: cilium's links use either.
func HaveDynamicProbes(kind string) bool {
	if _, err := os.Stat("/sys/bus/event_source/devices/" + kind + "/type"); err == nil {
		return true
	}
	for _, dir := range TracefsDirs {
		if _, err := os.Stat(dir + "/" + kind + "_events"); err == nil {
			return true
		}
	}
	return false
}

func tracefsAnswer() string {
	for _, dir := range []string{"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"} {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return "yes"
		}
	}
	return "unknown (tracefs is not mounted; ebtrace mounts it when a script needs it)"
}

// tpBTF loads a BTF-typed raw tracepoint program for sched_switch, a
// tracepoint every kernel has.
func tpBTF(hasBTF bool) string {
	if !hasBTF {
		return "no (the kernel has no BTF)"
	}
	return answer(loadTrivial(tpBTFSpec()))
}

func tpBTFSpec() *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "sched_switch"}
}

// fentry answers through features, which loads an fentry program; a
// refusal with EPERM even for root comes from lockdown or a security
// module rather than from missing support.
func fentry() string {
	err := features.HaveProgramType(ebpf.Tracing)
	if access := CurrentAccess(); errors.Is(err, unix.EPERM) && access.Privileged() {
		return "no (the kernel refuses to load them: " + access.Denied() + ")"
	}
	return answer(err)
}

func loadTrivial(spec *ebpf.ProgramSpec) error {
	spec.Instructions = asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	spec.License = "GPL"
	prog, err := ebpf.NewProgramWithOptions(spec, ebpf.ProgramOptions{LogDisabled: true})
	if err != nil {
		return err
	}
	return prog.Close()
}

// perfEvent opens a sampling event on CPU 0 for every process, as the
// perf-based probe types do.
func perfEvent(typ uint32, config uint64) string {
	attr := unix.PerfEventAttr{Type: typ, Config: config, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{})), Sample: 1000000}
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err == nil {
		unix.Close(fd)
		return "yes"
	}
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODEV) {
		return "no (no such counter on this machine: " + reason(err) + ")"
	}
	return "unknown (" + reason(err) + ")"
}
