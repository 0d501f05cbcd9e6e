package filter

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// liveFormat reads an event's format from the running kernel.
func liveFormat(t *testing.T, category, name string) *kernel.Format {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	events, _, err := kernel.Live()
	if err != nil {
		t.Fatal(err) // RequireTracefs found it
	}
	f, err := events.Format(category, name)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no event %s:%s on this kernel", category, name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// liveOptions are the Options of the running kernel, as ebtrace record
// finds them: its filter's treatment of a bare char * into user memory is
// asked of the kernel, once per test process.
func liveOptions(t *testing.T) Options {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	events, _, err := kernel.Live()
	if err != nil {
		t.Fatal(err)
	}
	return Options{UserPointers: func() (bool, error) { return kernel.FilterReadsUserPointers(events) }}
}

// loadFilter compiles src for the event and loads it through the verifier.
func loadFilter(t *testing.T, src string, format *kernel.Format, opts Options) *ebpf.Program {
	t.Helper()
	expr, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q):\n%v", src, err)
	}
	insns, err := Compile(expr, format, opts)
	if err != nil {
		t.Fatalf("Compile(%q):\n%v", src, err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.TracePoint, License: "GPL", Instructions: insns})
	if err != nil {
		t.Fatalf("load %q: %v\n%v", src, err, insns)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// TestVerifierLoads loads one filter of every kind through the verifier,
// globs with many '*'s among them: each search loop must not multiply the
// states the verifier walks.
func TestVerifierLoads(t *testing.T) {
	write := liveFormat(t, "syscalls", "sys_enter_write")
	openat := liveFormat(t, "syscalls", "sys_enter_openat")
	for _, tc := range []struct {
		format *kernel.Format
		src    string
	}{
		{write, "count == 3"},
		{write, "count > 3 && fd != 1 || !(count & 4)"},
		{write, "common_pid == 1 || common_type == 5 || CPU < 2"},
		{write, `comm == "workload"`},
		{write, `comm ~ "work*"`},
		{write, `comm ~ "*load"`},
		{write, `comm ~ "*orkl*"`},
		{write, `comm ~ "w?r[a-z]*oa[!x]"`},
		{write, `comm ~ "!w*"`},
		{write, `buf.ustring == "abc"`},
		{openat, `filename.ustring ~ "/tmp/*.txt"`},
		{openat, `filename.ustring ~ "*filt*"`},
		{openat, `filename.ustring ~ "*.txt"`},
		{openat, `filename.ustring ~ "*a*b*c*d"`},
		{openat, `filename.ustring ~ "/*a*b*c*d*e*f*"`},
		{openat, `filename.ustring ~ "*[a-z][0-9]?x*y"`},
		{openat, `filename.ustring ~ "*a*" && filename.ustring ~ "*b*" && filename.ustring ~ "*c" || filename.ustring ~ "x*"`},
		{openat, `dfd == 0xffffffffffffff9c && flags & 0x40 || mode < 0644`},
		{openat, `filename ~ "*.txt" || filename != "x" && filename ~ "*a*b"`},
	} {
		// Both ways a kernel may read a bare char *.
		for _, user := range []bool{false, true} {
			loadFilter(t, tc.src, tc.format, Options{UserPointers: func() (bool, error) { return user, nil }})
		}
	}
}

// TestPerfEventFilter attaches a compiled filter to perf events on
// syscalls:sys_enter_write with PERF_EVENT_IOC_SET_BPF, the attachment
// ebtrace record uses, and counts what it keeps of the workload's writes
// of 1..40 bytes.
func TestPerfEventFilter(t *testing.T) {
	format := liveFormat(t, "syscalls", "sys_enter_write")
	bin, comm := testutil.Renamed(t, testutil.Workload(t), "pfflt")
	for _, tc := range []struct {
		src  string
		kept uint64
	}{
		{"count > 5 && count <= 12", 7},
		{"count & 8 && !(count & 1)", 9},
		{"count == 0", 0},
	} {
		t.Run(tc.src, func(t *testing.T) {
			prog := loadFilter(t, fmt.Sprintf("COMM == %q && (%s)", comm, tc.src), format, Options{})
			count := testutil.PerfFilterCount(t, format.ID, prog)
			if err := exec.Command(bin, "write", "1", "40").Run(); err != nil {
				t.Fatal(err)
			}
			if got := count(); got != tc.kept {
				t.Errorf("%s kept %d of 40 writes, want %d", tc.src, got, tc.kept)
			}
		})
	}
}
