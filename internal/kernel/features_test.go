package kernel

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

func TestWriteInfoLayout(t *testing.T) {
	var b bytes.Buffer
	err := writeInfo(&b, []infoSection{
		{"One", []infoLine{{"a", "yes"}, {"longer name", "no (why)"}}},
		{"Two", []infoLine{{"b", "unknown (operation not permitted)"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `One
  a:           yes
  longer name: no (why)

Two
  b:           unknown (operation not permitted)
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestAnswer(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "yes"},
		{ebpf.ErrNotSupported, "no"},
		{errors.Join(errors.New("load program"), unix.EPERM, errors.New("MEMLOCK may be too low")), "unknown (operation not permitted)"},
		{errors.New("odd"), "unknown (odd)"},
	} {
		if got := answer(c.err); got != c.want {
			t.Errorf("answer(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	for in, want := range map[string]string{
		"none [integrity] confidentiality\n": "integrity",
		"[none] integrity confidentiality":   "none",
		"garbled":                            "unknown (garbled)",
	} {
		if got := parseLockdown(in); got != want {
			t.Errorf("parseLockdown(%q) = %q, want %q", in, got, want)
		}
	}
}

// info runs WriteInfo and indexes its answers as "Section/name".
func info(t *testing.T) map[string]string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteInfo(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("--info:\n%s", b.String())
	out := map[string]string{}
	section := ""
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		switch {
		case line == "":
		case !strings.HasPrefix(line, "  "):
			section = line
		default:
			name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				t.Fatalf("line %q has no colon", line)
			}
			out[section+"/"+name] = strings.TrimSpace(value)
		}
	}
	return out
}

// The answers agree with what this kernel does when asked directly: each
// is checked by loading, creating or attaching the thing itself, not by
// what one kernel build answered.
func TestInfoOnThisMachine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: feature probes load BPF programs")
	}
	got := info(t)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got["System/kernel"], unix.ByteSliceToString(u.Release[:])+" (") {
		t.Errorf("kernel: %q", got["System/kernel"])
	}
	_, btfErr := os.Stat("/sys/kernel/btf/vmlinux")
	ringbuf := yesNo(newMap(ebpf.RingBuf, 0, 0, 4096))
	want := map[string]string{
		"System/BTF (vmlinux)":                         yesNo(btfErr),
		"Program types/tracepoint":                     yesNo(load(&ebpf.ProgramSpec{Type: ebpf.TracePoint})),
		"Program types/raw_tracepoint":                 yesNo(load(&ebpf.ProgramSpec{Type: ebpf.RawTracepoint})),
		"Program types/perf_event":                     yesNo(load(&ebpf.ProgramSpec{Type: ebpf.PerfEvent})),
		"Map types/hash":                               yesNo(newMap(ebpf.Hash, 4, 4, 1)),
		"Map types/ringbuf":                            ringbuf,
		"BPF/ring buffer":                              ringbuf,
		"Helpers (in kprobe programs)/ringbuf_reserve": yesNo(callIn(ebpf.Kprobe, asm.FnRingbufReserve)),
		"Helpers (in kprobe programs)/probe_read_user": yesNo(callIn(ebpf.Kprobe, asm.FnProbeReadUser)),
		"Probe types/kprobe, kretprobe":                kprobeAnswer(t),
		"Probe types/hardware":                         hardwareAnswer(),
		"Probe types/rawtracepoint":                    yesNo(attachRawTracepoint()),
	}
	if btfErr == nil {
		tpBTF := yesNo(load(&ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "sched_switch"}))
		want["Probe types/rawtracepoint args (tp_btf)"] = tpBTF
		want["Program types/tracing"] = tpBTF
	}
	for k, v := range want {
		if !strings.HasPrefix(got[k], v) {
			t.Errorf("%s: %q, but asked directly the kernel says %q", k, got[k], v)
		}
	}
}

func yesNo(err error) string {
	if err != nil {
		return "no"
	}
	return "yes"
}

// load loads a program of spec's type that returns 0.
func load(spec *ebpf.ProgramSpec) error {
	spec.Instructions = asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	spec.License = "GPL"
	prog, err := ebpf.NewProgram(spec)
	if err == nil {
		prog.Close()
	}
	return err
}

// callIn loads a program of type typ that calls fn with zero arguments,
// which the verifier checks only as far as the call is allowed.
func callIn(typ ebpf.ProgramType, fn asm.BuiltinFunc) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: typ, License: "GPL", Instructions: asm.Instructions{
		asm.Mov.Imm(asm.R1, 0), asm.Mov.Imm(asm.R2, 0), asm.Mov.Imm(asm.R3, 0),
		fn.Call(), asm.Mov.Imm(asm.R0, 0), asm.Return(),
	}})
	if err == nil {
		prog.Close()
		return nil
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && !strings.Contains(strings.Join(ve.Log, "\n"), "unknown func") && !strings.Contains(strings.Join(ve.Log, "\n"), "invalid func") {
		return nil // refused for its arguments: the helper itself is allowed
	}
	return err
}

func newMap(typ ebpf.MapType, key, value, entries uint32) error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: typ, KeySize: key, ValueSize: value, MaxEntries: entries})
	if err == nil {
		m.Close()
	}
	return err
}

func attachRawTracepoint() error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.RawTracepoint, License: "GPL", Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_switch", Program: prog})
	if err != nil {
		return err
	}
	return l.Close()
}

// kprobeAnswer attaches a kprobe to learn whether kprobes work here.
func kprobeAnswer(t *testing.T) string {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Kprobe,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		t.Fatalf("load a kprobe program: %v", err)
	}
	defer prog.Close()
	l, err := link.Kprobe("vfs_read", prog, nil)
	if err != nil {
		t.Logf("kprobe on vfs_read: %v", err)
		return "no"
	}
	l.Close()
	return "yes"
}

func hardwareAnswer() string {
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_HARDWARE, Config: unix.PERF_COUNT_HW_INSTRUCTIONS, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{})), Sample: 1 << 20}
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return "no"
	}
	unix.Close(fd)
	return "yes"
}
