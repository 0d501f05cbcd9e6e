package ftfilter_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/ftfilter"
	"github.com/ebtrace/ebtrace/internal/ftrace"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// liveTracefs returns the tracefs root and its events, skipping without
// root, tracefs or tracing instances.
func liveTracefs(t *testing.T) (string, *kernel.Events) {
	t.Helper()
	root := testutil.RequireTracefsInstances(t)
	return root, kernel.NewEvents(os.DirFS(root))
}

// liveFormat returns an event's format, skipping when this kernel lacks it.
func liveFormat(t *testing.T, events *kernel.Events, event string) *kernel.Format {
	t.Helper()
	cat, name, _ := strings.Cut(event, ":")
	f, err := events.Format(cat, name)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no event %s on this kernel: %v", event, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestKernelAcceptsFilters writes translated filters to the events of a
// private tracefs instance: the kernel must take each one and show it
// back as written.
func TestKernelAcceptsFilters(t *testing.T) {
	root, events := liveTracefs(t)
	dir := filepath.Join(root, "instances", fmt.Sprintf("ebtrace-ftfilter-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove tracefs instance: %v", err)
		}
	})
	for _, c := range []struct{ event, pred string }{
		{"syscalls:sys_enter_write", `args.count > 5 && comm == "bash"`},
		{"syscalls:sys_enter_write", "args.fd == 1 || args.count <= -2"},
		{"syscalls:sys_enter_write", "args.__syscall_nr == -1"},
		{"syscalls:sys_enter_openat", "args.dfd == -100 && args.mode == 0644"},
		{"sched:sched_switch", `!(args.prev_state & 3) && (args.prev_comm == "swapper/0" || tid != 4)`},
		{"sched:sched_switch", `cpu < 2 || comm != "x\"y"`},
		{"sched:sched_switch", `comm == "" || args.next_comm == "0123456789abcd"`},
		{"sched:sched_switch", "args.prev_prio & 0x80000000"},
		{"sched:sched_process_exec", `args.filename == "/usr/bin/true" || args->old_pid < 10`},
	} {
		f := liveFormat(t, events, c.event)
		want, _ := ftfilter.Translate(predicate(t, c.event, c.pred), f)
		if want == "" {
			t.Errorf("%s /%s/ does not translate", c.event, c.pred)
			continue
		}
		file := filepath.Join(dir, "events", f.Category, f.Name, "filter")
		if err := os.WriteFile(file, []byte(want), 0); err != nil {
			said, _ := os.ReadFile(file)
			t.Errorf("%s /%s/: the kernel refuses %q: %v\n%s", c.event, c.pred, want, err, said)
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(got)) != want {
			t.Errorf("%s /%s/: filter file shows %q after writing %q", c.event, c.pred, got, want)
		}
	}
}

// TestKernelKeepsWhatPredicateKeeps runs the workload's writes of 1 to 40
// bytes under a unique comm, read through one instance filtered on the comm
// alone and one per predicate under its translated filter: an exact filter
// must keep exactly the writes the predicate keeps, an inexact one at
// least those.
func TestKernelKeepsWhatPredicateKeeps(t *testing.T) {
	root, events := liveTracefs(t)
	const event = "syscalls:sys_enter_write"
	f := liveFormat(t, events, event)
	comm := fmt.Sprintf("ftf%d", os.Getpid())
	link := filepath.Join(t.TempDir(), comm)
	if err := os.Symlink(testutil.Workload(t), link); err != nil {
		t.Fatal(err)
	}
	const lo, hi = 1, 40
	cases := []struct {
		pred  string
		keep  func(count uint64) bool
		exact bool
		// kernel is what the inexact filter keeps: the translated part.
		kernel func(count uint64) bool
	}{
		{"args.count >= 10 && args.count <= 20", func(n uint64) bool { return n >= 10 && n <= 20 }, true, nil},
		{"args.count == 7 || 35 < args.count", func(n uint64) bool { return n == 7 || n > 35 }, true, nil},
		{"!(args.count & 1) && args.count < 30", func(n uint64) bool { return n%2 == 0 && n < 30 }, true, nil},
		{"(args.count & 0x4) == 0 && cpu >= 0 && args.count != 5", func(n uint64) bool { return n&4 == 0 && n != 5 }, true, nil},
		{"args.count > 30 && pid > 0", func(n uint64) bool { return n > 30 }, false, func(n uint64) bool { return n > 30 }},
		{"args.count % 3 == 0 || args.count < 4", func(n uint64) bool { return n%3 == 0 || n < 4 }, false, func(uint64) bool { return true }},
		{"args.count < 20 && args.count % 3 == 0", func(n uint64) bool { return n < 20 && n%3 == 0 }, false, func(n uint64) bool { return n < 20 }},
	}
	tp := kernel.Tracepoint{Category: f.Category, Name: f.Name}
	open := func(filter string) *ftrace.Instance {
		in, err := ftrace.Open(root, ftrace.Options{Events: []ftrace.EventSpec{{Tracepoint: tp, Filter: filter}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := in.Close(); err != nil {
				t.Error(err)
			}
		})
		return in
	}
	all := open(fmt.Sprintf("COMM == %q", comm))
	var filtered []*ftrace.Instance
	var filters []string
	for _, c := range cases {
		filter, exact := ftfilter.Translate(predicate(t, event, fmt.Sprintf("comm == %q && (%s)", comm, c.pred)), f)
		byComm := fmt.Sprintf("COMM == %q", comm)
		if exact != c.exact || filter != byComm && !strings.HasPrefix(filter, byComm+" && ") {
			t.Fatalf("/%s/ translates to %q, exact %v; want the comm and the rest, exact %v", c.pred, filter, exact, c.exact)
		}
		filters = append(filters, filter)
		filtered = append(filtered, open(filter))
	}
	if out, err := exec.Command(link, "write", fmt.Sprint(lo), fmt.Sprint(hi)).CombinedOutput(); err != nil {
		t.Fatalf("workload: %v\n%s", err, out)
	}
	counts := func(in *ftrace.Instance) []uint64 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // Run then drains what the buffers hold and returns.
		var got []uint64
		err := in.Run(ctx, func(e ftrace.Event) error {
			got = append(got, count(t, f, e.Raw))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for cpu, l := range in.Lost() {
			if l.Events != 0 || l.Uncounted != 0 {
				t.Fatalf("CPU %d lost events: %+v", cpu, l)
			}
		}
		slices.Sort(got)
		return got
	}
	var wrote []uint64
	for n := uint64(lo); n <= hi; n++ {
		wrote = append(wrote, n)
	}
	if got := counts(all); !slices.Equal(got, wrote) {
		t.Fatalf("the workload's writes read %v, want %v", got, wrote)
	}
	for i, c := range cases {
		keeps := c.keep
		if !c.exact {
			keeps = c.kernel
		}
		got := counts(filtered[i])
		if want := slices.DeleteFunc(slices.Clone(wrote), func(n uint64) bool { return !keeps(n) }); !slices.Equal(got, want) {
			t.Errorf("/%s/ as %q: the kernel kept writes %v, want %v", c.pred, filters[i], got, want)
		}
		for _, n := range wrote {
			if c.keep(n) && !slices.Contains(got, n) {
				t.Errorf("/%s/ as %q: the kernel dropped the write of %d, which the predicate keeps", c.pred, filters[i], n)
			}
		}
	}
}

// count reads sys_enter_write's count from a record.
func count(t *testing.T, f *kernel.Format, raw []byte) uint64 {
	t.Helper()
	fld, ok := f.Field("count")
	if !ok || fld.Size != 8 || fld.Offset+8 > len(raw) {
		t.Fatalf("record of %d bytes has no 8-byte count (%+v)", len(raw), fld)
	}
	return binary.NativeEndian.Uint64(raw[fld.Offset:])
}
