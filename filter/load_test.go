package filter

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/cilium/ebpf"

	"ebtrace/internal/testutil"
	"ebtrace/kernel"
)

// liveFormat reads an event's format from the running kernel.
func liveFormat(t *testing.T, category, name string) *kernel.Format {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	events, _, err := kernel.Live()
	if err != nil {
		t.Skipf("no tracefs: %v", err)
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

// loadFilter compiles src for the event and loads it through the verifier.
func loadFilter(t *testing.T, src string, format *kernel.Format) *ebpf.Program {
	t.Helper()
	expr, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q):\n%v", src, err)
	}
	insns, err := Compile(expr, format)
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

// TestVerifierLoads loads one filter of every kind through the verifier.
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
		{openat, `dfd == 0xffffffffffffff9c && flags & 0x40 || mode < 0644`},
	} {
		loadFilter(t, tc.src, tc.format)
	}
}
