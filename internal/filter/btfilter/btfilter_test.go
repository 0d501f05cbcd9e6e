package btfilter

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

var write = kernel.Tracepoint{Category: "syscalls", Name: "sys_enter_write"}

func fakeEnv() *probe.Env {
	return &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
}

// TestDiagnostics checks the errors of bad predicates, rendered against the
// generated script.
func TestDiagnostics(t *testing.T) {
	for _, tc := range []struct{ pred, want string }{
		{"/args.cuont > 1/", `has no field "cuont"`},
		{"//", "empty predicate"},
		{"/1/ { exit(); } tracepoint:syscalls:sys_enter_write /1/", "takes one predicate"},
		{"/args.count > /", "--filter-bt:1:"},
	} {
		_, err := Compile(tc.pred, write, fakeEnv())
		d, ok := err.(*source.Diagnostics)
		if !ok {
			t.Errorf("Compile(%q): error %v (%T), want diagnostics", tc.pred, err, err)
			continue
		}
		var b bytes.Buffer
		d.Render(&b)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("Compile(%q):\n%s\nwant it to contain %q", tc.pred, b.String(), tc.want)
		}
	}
}

// TestKeeps attaches compiled predicates to a perf event on
// syscalls:sys_enter_write with PERF_EVENT_IOC_SET_BPF, as ebtrace record
// does, and counts the events kept while the workload writes 1..40 bytes.
// The predicates are scoped to the workload by its unique comm.
func TestKeeps(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	events, _, err := kernel.Live()
	if err != nil {
		t.Fatal(err) // RequireTracefs found it
	}
	format, err := events.Format(write.Category, write.Name)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("this kernel has no %s (CONFIG_FTRACE_SYSCALLS): %v", write, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	env := &probe.Env{Events: func() (*kernel.Events, error) { return events, nil }}
	bin, comm := testutil.Renamed(t, testutil.Workload(t), "btflt")
	for _, tc := range []struct {
		pred string
		kept uint64
	}{
		{"args.count > 5 && args.count <= 12", 7},
		{"args.count & 4", 20},
		{"args.count < 3 || args.count == 40", 3},
		{"args.count == 41", 0},
	} {
		t.Run(tc.pred, func(t *testing.T) {
			// Only the workload's events count, whichever thread makes them.
			res, err := Compile(`/comm == "`+comm+`" && (`+tc.pred+`)/`, write, env)
			if err != nil {
				t.Fatal(err)
			}
			coll, err := ebpf.NewCollection(res.Spec())
			if err != nil {
				t.Fatal(err)
			}
			defer coll.Close()
			traced := testutil.StartGated(t, "/bin/sh", "-c", "read line; exec "+bin+" write 1 40")
			count := testutil.PerfFilterCount(t, format.ID, coll.Programs[res.Programs[0].Name])
			traced.Release(t)
			if got := count(); got != tc.kept {
				t.Errorf("%s kept %d of the workload's 40 writes, want %d (another program on %s returning 0 would hide them all)", tc.pred, got, tc.kept, write)
			}
		})
	}
}
