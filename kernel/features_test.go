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

// The answers agree with what ebtrace's probes meet on this machine:
// checked independently where possible (a kprobe link, a hardware perf
// event), and for the rest against the kernel these tests run on, which
// has ring buffers, tracepoints and tp_btf (Linux 6.18).
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
	want := map[string]string{
		"System/BTF (vmlinux)":                         map[bool]string{true: "yes", false: "no"}[btfErr == nil],
		"Program types/tracepoint":                     "yes",
		"Program types/raw_tracepoint":                 "yes",
		"Program types/perf_event":                     "yes",
		"Map types/hash":                               "yes",
		"Map types/ringbuf":                            "yes",
		"BPF/ring buffer":                              "yes",
		"Helpers (in kprobe programs)/ringbuf_reserve": "yes",
		"Helpers (in kprobe programs)/probe_read_user": "yes",
		"Probe types/kprobe, kretprobe":                kprobeAnswer(t),
		"Probe types/hardware":                         hardwareAnswer(),
		"Probe types/rawtracepoint":                    "yes",
	}
	if btfErr == nil {
		want["Probe types/rawtracepoint args (tp_btf)"] = "yes"
		want["Program types/tracing"] = "yes"
	}
	for k, v := range want {
		if !strings.HasPrefix(got[k], v) {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
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
