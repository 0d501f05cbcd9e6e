package ftrace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

var sysEnterWrite = kernel.Tracepoint{Category: "syscalls", Name: "sys_enter_write"}

// liveRoot returns the tracefs root and the format of syscalls:sys_enter_write,
// skipping where there is no root, tracefs, instances or syscall events.
func liveRoot(t *testing.T) (string, *kernel.Format) {
	t.Helper()
	root := testutil.RequireTracefsInstances(t)
	format, err := kernel.NewEvents(os.DirFS(root)).Format(sysEnterWrite.Category, sysEnterWrite.Name)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no event %s on this kernel (CONFIG_FTRACE_SYSCALLS): %v", sysEnterWrite, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return root, format
}

// open opens an instance for the test and checks, when the test ends, that
// Close removed it.
func open(t *testing.T, root string, opts Options) *Instance {
	t.Helper()
	in, err := Open(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(in.Dir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("instance %s is still there after Close: %v", in.Dir(), err)
		}
	})
	return in
}

// leftovers lists this process's instances under root.
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(root, "instances", fmt.Sprintf("ebtrace-%d-*", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// field reads an unsigned field of a record.
func field(t *testing.T, f *kernel.Format, name string, raw []byte) uint64 {
	t.Helper()
	var fld kernel.Field
	for _, x := range f.Fields {
		if x.Name == name {
			fld = x
		}
	}
	if fld.Name == "" || fld.Offset+fld.Size > len(raw) {
		t.Fatalf("record of %d bytes has no field %s (%+v)", len(raw), name, fld)
	}
	b := raw[fld.Offset : fld.Offset+fld.Size]
	switch fld.Size {
	case 2:
		return uint64(binary.NativeEndian.Uint16(b))
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	case 8:
		return binary.NativeEndian.Uint64(b)
	}
	t.Fatalf("field %s has %d bytes", name, fld.Size)
	return 0
}

// copied is an Event that outlives its callback.
type copied struct {
	CPU  int
	Time uint64
	Raw  []byte
}

// run reads the instance while during runs, then stops it. With live > 0
// it first waits for that many events to arrive while Run still runs: the
// buffers must wake the reader, not only give their events up at the stop.
func run(t *testing.T, in *Instance, during func(), live int) []copied {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var got []copied
	arrived := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- in.Run(ctx, func(e Event) error {
			got = append(got, copied{e.CPU, e.Time, append([]byte(nil), e.Raw...)})
			if len(got) == live {
				close(arrived)
			}
			return nil
		})
	}()
	during()
	if live > 0 {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Errorf("%d events did not arrive within 5 s while Run ran", live)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return got
}

func monotonic(t *testing.T) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Nano())
}

// TestReadWrites traces the workload's n writes of 1..n bytes. The filter
// is on its comm, not common_pid: the Go runtime may make the writes from
// any of the workload's threads, and common_pid is the thread's id.
func TestReadWrites(t *testing.T) {
	root, format := liveRoot(t)
	const n = 300
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "ftwl")
	gated := testutil.StartGated(t, wl, "wait", "write", "1", strconv.Itoa(n))
	before := monotonic(t)
	in := open(t, root, Options{Events: []EventSpec{{sysEnterWrite, fmt.Sprintf("comm == %q", comm)}}})
	got := run(t, in, func() { gated.Release(t) }, n)
	after := monotonic(t)

	if len(got) != n {
		t.Fatalf("read %d events, want %d", len(got), n)
	}
	last := map[int]uint64{}
	for i, e := range got {
		if typ := field(t, format, "common_type", e.Raw); typ != uint64(format.ID) {
			t.Fatalf("event %d has common_type %d, want %s's %d", i, typ, sysEnterWrite, format.ID)
		}
		if e.Time < before || e.Time > after {
			t.Errorf("event %d at %d ns, outside the workload's run [%d, %d] on CLOCK_MONOTONIC", i, e.Time, before, after)
		}
		if e.Time <= last[e.CPU] {
			t.Errorf("event %d on CPU %d at %d ns, not after the CPU's previous one at %d", i, e.CPU, e.Time, last[e.CPU])
		}
		last[e.CPU] = e.Time
	}
	sort.SliceStable(got, func(i, j int) bool { return got[i].Time < got[j].Time })
	for i, e := range got {
		if c := field(t, format, "count", e.Raw); c != uint64(i+1) {
			t.Fatalf("write %d in time order has count %d, want %d", i+1, c, i+1)
		}
	}
	for cpu, l := range in.Lost() {
		if l != (Lost{}) {
			t.Errorf("CPU %d lost %+v", cpu, l)
		}
	}
}

// TestLostCounted lets the workload overflow a small buffer before
// anything reads it: the kernel overwrites the oldest pages, and what is
// read plus what is counted lost must be every write, the newest read.
func TestLostCounted(t *testing.T) {
	root, format := liveRoot(t)
	const n = 5000
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "ftwl")
	gated := onCPU0(t, func() *testutil.Gated {
		return testutil.StartGated(t, wl, "wait", "write", "1", strconv.Itoa(n))
	})
	in := open(t, root, Options{Events: []EventSpec{{sysEnterWrite, fmt.Sprintf("comm == %q", comm)}}, BufferKB: 16})
	gated.Release(t)
	got := run(t, in, func() {}, 0)
	var lost Lost
	for _, l := range in.Lost() {
		lost.Events += l.Events
		lost.Uncounted += l.Uncounted
	}
	if lost.Events == 0 || lost.Uncounted != 0 {
		t.Fatalf("lost %+v of %d writes into a 16 KiB buffer, want a counted loss", lost, n)
	}
	t.Logf("read %d writes, %d counted lost", len(got), lost.Events)
	if len(got)+int(lost.Events) != n {
		t.Fatalf("read %d and lost %d, want %d in all", len(got), lost.Events, n)
	}
	for i, e := range got {
		if c := field(t, format, "count", e.Raw); c != uint64(n-len(got)+i+1) {
			t.Fatalf("read %d has count %d, want %d: the newest writes survive", i, c, n-len(got)+i+1)
		}
	}
}

// onCPU0 runs start on a thread bound to CPU 0, so that the process it
// starts, and every thread of it, inherit that binding.
func onCPU0(t *testing.T, start func() *testutil.Gated) *testutil.Gated {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, cpu0 unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		t.Fatal(err)
	}
	cpu0.Set(0)
	if err := unix.SchedSetaffinity(0, &cpu0); err != nil {
		t.Skipf("cannot bind to CPU 0: %v", err)
	}
	defer unix.SchedSetaffinity(0, &old)
	return start()
}

// TestCallbackErrorStops checks that an error from the callback ends Run
// with that error, and that Close still removes the instance.
func TestCallbackErrorStops(t *testing.T) {
	root, _ := liveRoot(t)
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "ftwl")
	gated := testutil.StartGated(t, wl, "wait", "write", "1", "5")
	in := open(t, root, Options{Events: []EventSpec{{sysEnterWrite, fmt.Sprintf("comm == %q", comm)}}})
	gated.Release(t)
	stop := errors.New("reader gave up")
	calls := 0
	err := in.Run(context.Background(), func(Event) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Fatalf("Run returned %v after %d calls, want %v after 1", err, calls, stop)
	}
}

// TestFilterRefused checks that a filter the kernel refuses comes back
// with what the kernel said, and leaves no instance behind.
func TestFilterRefused(t *testing.T) {
	root, _ := liveRoot(t)
	const filter = "count == 1 && nosuchfield == 2"
	_, err := Open(root, Options{Events: []EventSpec{{sysEnterWrite, filter}}})
	var ferr *FilterError
	if !errors.As(err, &ferr) || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Open with filter %q: %v, want a FilterError wrapping EINVAL", filter, err)
	}
	if ferr.Event != sysEnterWrite || ferr.Filter != filter {
		t.Errorf("FilterError names %s and %q, want %s and %q", ferr.Event, ferr.Filter, sysEnterWrite, filter)
	}
	// Kernels word and place it differently (6.18 puts the caret after
	// the field): the report quotes the filter, carets a column of it on
	// the next line, and says the field is not found.
	lines := strings.Split(ferr.Kernel, "\n")
	at := -1
	for i, l := range lines {
		if strings.HasSuffix(l, filter) {
			at = i
		}
	}
	start := len(lines[max(at, 0)]) - len(filter)
	if at < 0 || at+1 >= len(lines) || strings.TrimSpace(lines[at+1]) != "^" ||
		strings.Index(lines[at+1], "^") < start || strings.Index(lines[at+1], "^") >= start+len(filter) ||
		!strings.Contains(ferr.Kernel, "Field not found") {
		t.Errorf("the kernel's report does not caret the filter and say the field is not found:\n%s", ferr.Kernel)
	}
	if !strings.Contains(err.Error(), ferr.Kernel) {
		t.Errorf("error %q does not include the kernel's report", err)
	}
	if left := leftovers(t, root); len(left) != 0 {
		t.Errorf("Open left instances behind: %v", left)
	}
}

// TestMissingEvent checks that an event the kernel lacks is an
// os.ErrNotExist, and leaves no instance behind.
func TestMissingEvent(t *testing.T) {
	root, _ := liveRoot(t)
	_, err := Open(root, Options{Events: []EventSpec{{kernel.Tracepoint{Category: "syscalls", Name: "sys_enter_nosuch"}, ""}}})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no trace event syscalls:sys_enter_nosuch") {
		t.Fatalf("Open of a missing event: %v, want a not-exist error naming it", err)
	}
	if left := leftovers(t, root); len(left) != 0 {
		t.Errorf("Open left instances behind: %v", left)
	}
}

// TestTimeExtend writes two batches 300 ms apart on one CPU before anything
// reads them, so they share a page: the gap exceeds an event header's
// 27-bit delta (134 ms), and the kernel puts a time extend between them.
// Each event's time must fall within its batch's run.
func TestTimeExtend(t *testing.T) {
	root, format := liveRoot(t)
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "ftwl")
	in := open(t, root, Options{Events: []EventSpec{{sysEnterWrite, fmt.Sprintf("comm == %q", comm)}}})
	var spans [2][2]uint64
	for i := range spans {
		gated := onCPU0(t, func() *testutil.Gated {
			return testutil.StartGated(t, wl, "wait", "write", "1", "3")
		})
		spans[i][0] = monotonic(t)
		gated.Release(t)
		spans[i][1] = monotonic(t)
		if i == 0 {
			time.Sleep(300 * time.Millisecond)
		}
	}
	got := run(t, in, func() {}, 0)
	if len(got) != 6 {
		t.Fatalf("read %d events, want 6", len(got))
	}
	for i, e := range got {
		span := spans[i/3]
		if c := field(t, format, "count", e.Raw); e.CPU != 0 || c != uint64(i%3+1) {
			t.Errorf("event %d: CPU %d, count %d, want CPU 0, count %d", i, e.CPU, c, i%3+1)
		}
		if e.Time < span[0] || e.Time > span[1] {
			t.Errorf("event %d at %d ns, outside its batch's run [%d, %d]", i, e.Time, span[0], span[1])
		}
	}
}

// TestSavedTGID has a thread of this process, not its main one, write
// once while an instance with RecordTGID traces writes, and exit: once
// /proc has forgotten the thread, SavedTGID still names this process.
func TestSavedTGID(t *testing.T) {
	root, _ := liveRoot(t)
	null, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	in := open(t, root, Options{Events: []EventSpec{{sysEnterWrite, ""}}, RecordTGID: true})
	// Another instance's record-tgid can leave the kernel noting every
	// thread already: the option must be this instance's own.
	if b, err := os.ReadFile(filepath.Join(in.Dir(), "options", "record-tgid")); err != nil || string(b) != "1\n" {
		t.Fatalf("the instance's record-tgid option: %q, %v; want it on", b, err)
	}
	tid := os.Getpid()
	// A goroutine that returns locked to its thread ends the thread,
	// unless it is the main thread: then another goroutine tries.
	for tid == os.Getpid() {
		tids := make(chan int)
		go func() {
			runtime.LockOSThread()
			if _, err := unix.Write(null, []byte{1}); err != nil {
				t.Error(err)
			}
			tids <- unix.Gettid()
		}()
		tid = <-tids
	}
	status := fmt.Sprintf("/proc/%d/status", tid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(status); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d did not exit within 5 s", tid)
		}
	}
	// The kernel notes the thread as it is switched out for the last
	// time, just after /proc forgot it.
	var tgid int
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if tgid, _ = SavedTGID(root, tid); tgid == os.Getpid() {
			return
		}
	}
	t.Errorf("saved_tgids says thread %d is of process %d, want this process, %d", tid, tgid, os.Getpid())
}
