package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// These tests record the workload's syscalls with `ebtrace record` and
// check the exact events it made.

// writeLines are the text records of the workload's writes of each of
// counts bytes, as recordedText shows them. It checks first that the
// running kernel's sys_enter_write has the fields the lines are written
// for.
func writeLines(t *testing.T, wl string, counts ...int) []string {
	requireArgFields(t, "sys_enter_write", "__syscall_nr fd buf count")
	var lines []string
	for _, n := range counts {
		lines = append(lines, fmt.Sprintf("%s: sys_enter_write: __syscall_nr=%d fd=FD buf=BUF count=%d", commOf(wl), unix.SYS_WRITE, n))
	}
	return lines
}

// requireArgFields skips the test unless the syscalls event's own fields
// are want, in order: the expected records are written for them, and
// another kernel's format may add or change fields.
func requireArgFields(t *testing.T, event, want string) {
	t.Helper()
	var got []string
	for _, f := range liveFormat(t, "syscalls", event).ArgFields() {
		got = append(got, f.Name)
	}
	if strings.Join(got, " ") != want {
		t.Skipf("this kernel's syscalls:%s has the fields %v; the expected records are written for %s", event, got, want)
	}
}

// liveFormat reads the running kernel's format of category:event.
func liveFormat(t *testing.T, category, event string) *kernel.Format {
	t.Helper()
	events, _, err := kernel.Live()
	if err != nil {
		t.Fatal(err)
	}
	f, err := events.Format(category, event)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// lockEvents takes the test's turn on the tracepoints it records (see
// testutil.LockTracepoint).
func lockEvents(t *testing.T, names ...string) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	var ids []uint32
	for _, name := range names {
		category, event, _ := strings.Cut(name, ":")
		ids = append(ids, liveFormat(t, category, event).ID)
	}
	slices.Sort(ids)
	for _, id := range ids {
		testutil.LockTracepoint(t, id)
	}
}

// textLine splits a text output line into its header and its event part.
var textLine = regexp.MustCompile(`^ *(\S+)-(\d+) +\[(\d{3})\] (\d+\.\d{6}): (.*)$`)

// recordedText checks every line of text output for the header's shape
// and times in order, and returns the events with the header cut down to
// the comm and the varying fd and buffer address of the workload's writes
// replaced. (The workload is a Go program: its syscalls may come from any
// of its threads.)
func recordedText(t *testing.T, out string) []string {
	t.Helper()
	var events []string
	var last string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := textLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %q is not comm-tid [cpu] time: event", line)
		}
		if last != "" && m[4] < last && len(m[4]) == len(last) {
			t.Errorf("time %s after %s", m[4], last)
		}
		last = m[4]
		event := regexp.MustCompile(` fd=\d+ buf=0x[0-9a-f]+ `).ReplaceAllString(m[5], " fd=FD buf=BUF ")
		events = append(events, m[1]+": "+event)
	}
	return events
}

func TestRecordFilteredWrites(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write")
	wl := testutil.Workload(t)
	want := writeLines(t, wl, 1020, 1021, 1022, 1023, 1024)
	r := runCLI(t, "record", "-e", "syscalls:sys_enter_write", "--filter", "count >= 1020", "-c", wl+" write 1 1024")
	if r.code != 0 || r.stderr != "Recording 1 event; Ctrl-C to stop\n" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := recordedText(t, r.stdout); !slices.Equal(got, want) {
		t.Errorf("recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Without a filter every event of the command is kept; enter and exit
// records interleave.
func TestRecordUnfiltered(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_getppid", "syscalls:sys_exit_getppid")
	requireArgFields(t, "sys_enter_getppid", "__syscall_nr")
	requireArgFields(t, "sys_exit_getppid", "__syscall_nr ret")
	wl := testutil.Workload(t)
	r := runCLI(t, "record", "-e", "syscalls:sys_enter_getppid", "-e", "syscalls:sys_exit_getppid", "-c", wl+" getppid 3")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	ppid := strconv.Itoa(os.Getpid())
	var want []string
	for range 3 {
		want = append(want, fmt.Sprintf("%s: sys_enter_getppid: __syscall_nr=%d", commOf(wl), unix.SYS_GETPPID),
			fmt.Sprintf("%s: sys_exit_getppid: __syscall_nr=%d ret=%s", commOf(wl), unix.SYS_GETPPID, ppid))
	}
	// The workload's parent is the re-executed ebtrace, not this test.
	got := recordedText(t, r.stdout)
	for i := range got {
		got[i] = regexp.MustCompile(`ret=\d+$`).ReplaceAllString(got[i], "ret="+ppid)
	}
	if !slices.Equal(got, want) {
		t.Errorf("recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRecordJSON(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write")
	wl := testutil.Workload(t)
	r := runCLI(t, "record", "-f", "json", "-e", "syscalls:sys_enter_write", "--filter", "count > 1021 && fd > 2", "-c", wl+" write 1 1024")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	type event struct {
		Type, Event, Comm string
		TimeNs            uint64 `json:"time_ns"`
		CPU, PID, TID     int
		Fields            map[string]any
	}
	var names []string
	for _, f := range liveFormat(t, "syscalls", "sys_enter_write").Fields {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	allFields := strings.Join(names, " ")
	var counts []float64
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		var e event
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if e.Type != "event" || e.Event != "syscalls:sys_enter_write" || e.Comm != commOf(wl) || e.PID <= 0 || e.TID <= 0 || e.TimeNs == 0 { // a Go workload writes from any of its threads
			t.Errorf("event %+v", e)
		}
		if keys := strings.Join(slices.Sorted(maps.Keys(e.Fields)), " "); keys != allFields {
			t.Errorf("fields %s, want the format file's %s", keys, allFields)
		}
		if e.Fields["common_pid"] != float64(e.TID) {
			t.Errorf("common_pid %v in an event of thread %d", e.Fields["common_pid"], e.TID)
		}
		if buf, _ := e.Fields["buf"].(string); !strings.HasPrefix(buf, "0x") {
			t.Errorf("buf %v: want a hex pointer", e.Fields["buf"])
		}
		counts = append(counts, e.Fields["count"].(float64))
	}
	if fmt.Sprint(counts) != "[1022 1023 1024]" {
		t.Errorf("counts %v", counts)
	}
}

// Enter and exit records of each write make one complete event of the
// call's duration, which Perfetto shows as a slice.
func TestRecordChromeTrace(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write", "syscalls:sys_exit_write")
	wl := testutil.Workload(t)
	out := filepath.Join(t.TempDir(), "trace.json")
	r := runCLI(t, "record", "-e", "syscalls:sys_enter_write", "-e", "syscalls:sys_exit_write", "-o", out, "-c", wl+" write 1 1024")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	trace, err := testutil.ValidateChromeTrace(data)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	threads := map[string]bool{}
	for _, e := range trace.TraceEvents {
		switch e.Ph {
		case "X":
			if e.Name != "write" || e.Cat != "syscalls" || e.Args["count"] != e.Args["ret"] || e.Dur <= 0 {
				t.Errorf("complete event %+v", e)
			}
			calls = append(calls, fmt.Sprint(e.Args["count"]))
		case "M":
			threads[fmt.Sprint(e.Name, " ", e.Args["name"])] = true
		default:
			t.Errorf("event %+v: every write has its enter and exit", e)
		}
	}
	var want []string
	for n := 1; n <= 1024; n++ {
		want = append(want, strconv.Itoa(n))
	}
	if !slices.Equal(calls, want) {
		t.Errorf("%d write slices, want 1024 of sizes 1..1024: %v", len(calls), calls)
	}
	if !threads["thread_name "+commOf(wl)] || !threads["process_name "+commOf(wl)] || len(threads) != 2 {
		t.Errorf("metadata %v", threads)
	}
}

// A buffer of one page cannot hold 1024 writes recorded as fast as the
// workload makes them: every one is either recorded or counted lost.
func TestRecordLostEvents(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write")
	wl := testutil.Workload(t)
	r := runCLI(t, "record", "-f", "json", "--buffer-size", "4K", "-e", "syscalls:sys_enter_write", "-c", wl+" write 1 1024")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	recorded, lostByCPU, others := countJSON(t, r.stdout)
	for _, line := range others {
		t.Errorf("line %q", line)
	}
	var lost uint64
	for _, n := range lostByCPU {
		lost += n
	}
	if recorded+lost != 1024 || lost == 0 {
		t.Errorf("%d recorded and %d lost, want 1024 in all and some lost", recorded, lost)
	}
	var reported []string
	for cpu, n := range lostByCPU {
		reported = append(reported, fmt.Sprintf("ebtrace: CPU %d lost %d events (a larger --buffer-size keeps more)\n", cpu, n))
	}
	slices.Sort(reported)
	if want := "Recording 1 event; Ctrl-C to stop\n" + strings.Join(reported, ""); r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}

// SIGINT and SIGTERM end a busy recording with a complete file, which
// holds no syscalls of ebtrace's own.
func TestRecordSignals(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	bin := testutil.Build(t, "./cmd/ebtrace")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "trace.json")
			cmd := exec.Command(bin, "record", "-e", "sched:sched_switch", "-e", "raw_syscalls:sys_enter", "-o", out)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			line, err := bufio.NewReader(stderr).ReadString('\n')
			if line != "Recording 2 events; Ctrl-C to stop\n" {
				t.Fatalf("stderr %q, %v", line, err)
			}
			time.Sleep(200 * time.Millisecond)
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("after %v: %v", sig, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10 s after %v", sig)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			trace, err := testutil.ValidateChromeTrace(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(trace.TraceEvents) == 0 {
				t.Error("no events in 200 ms of every syscall and context switch")
			}
			// ebtrace leaves its own syscalls, writing this file, out.
			for _, e := range trace.TraceEvents {
				if e.Cat == "raw_syscalls" && e.Pid == cmd.Process.Pid {
					t.Fatalf("ebtrace recorded itself: %+v", e)
				}
			}
		})
	}
}

// With another BPF program on the tracepoint, one that drops every perf
// sample, events come through the tracepoint link and ring buffer, and -v
// says so.
func TestRecordRingBufferPath(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write")
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	want := writeLines(t, wl, 1020, 1021, 1022, 1023, 1024)
	dropAll(t, "syscalls", "sys_enter_write")
	r := runCLI(t, "record", "-v", "-e", "syscalls:sys_enter_write", "--filter", "count >= 1020", "-c", wl+" write 1 1024")
	wantErr := "ebtrace record: events reach user space through tracepoint link + ring buffer\n" +
		"ebtrace record: another BPF program is attached to the tracepoint (syscalls:sys_enter_write runs 2)\n" +
		"Recording 1 event; Ctrl-C to stop\n"
	if r.code != 0 || r.stderr != wantErr {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", r.code, r.stderr, wantErr)
	}
	if got := recordedText(t, r.stdout); !slices.Equal(got, want) {
		t.Errorf("recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// With a one-page ring buffer, every write is recorded or counted lost.
	r = runCLI(t, "record", "-f", "json", "--buffer-size", "4K", "-e", "syscalls:sys_enter_write", "-c", wl+" write 1 1024")
	recorded, lostByCPU, _ := countJSON(t, r.stdout)
	var lost uint64
	for _, n := range lostByCPU {
		lost += n
	}
	if r.code != 0 || recorded+lost != 1024 {
		t.Errorf("exit %d: %d recorded and %d lost, want 1024 in all; stderr:\n%s", r.code, recorded, lost, r.stderr)
	}
	t.Logf("ring buffer of one page: %d recorded, %d lost", recorded, lost)
}

// countJSON counts the events of JSON output, the losses it reports per
// CPU, and returns the lines that are neither.
func countJSON(t *testing.T, out string) (recorded uint64, lostByCPU map[int]uint64, others []string) {
	t.Helper()
	lostByCPU = map[int]uint64{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var e struct {
			Type  string
			CPU   int
			Count uint64
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch e.Type {
		case "event":
			recorded++
		case "lost":
			lostByCPU[e.CPU] += e.Count
		default:
			others = append(others, line)
		}
	}
	return recorded, lostByCPU, others
}

func TestRecordVerbosePerfPath(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_getppid")
	wl := testutil.Workload(t)
	r := runCLI(t, "record", "-v", "-e", "syscalls:sys_enter_getppid", "-c", wl+" getppid 1")
	want := "ebtrace record: events reach user space through perf_event + PERF_EVENT_IOC_SET_BPF\nRecording 1 event; Ctrl-C to stop\n"
	if r.code != 0 || r.stderr != want || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", r.code, r.stdout, r.stderr, want)
	}
}

func TestRecordBadInput(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-e", "syscalls:sys_enter_opnat"},
			"ebtrace: unknown event syscalls:sys_enter_opnat (did you mean syscalls:sys_enter_openat, syscalls:sys_enter_openat2, syscalls:sys_enter_creat?)\n"},
		{[]string{"-e", "syscalls:sys_enter_write", "--filter", `buf < "x"`},
			"filter:1:5: error: buf is a string (const char *); strings compare with ==, != or ~, not <\n" +
				"    buf < \"x\"\n" +
				"        ^\n" +
				"hint: use ~ for a glob match, e.g. buf ~ \"ba*\"\n"},
	} {
		r := runCLI(t, append([]string{"record"}, tc.args...)...)
		if r.code != 1 || r.stdout != "" || r.stderr != tc.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", tc.args, r.code, r.stdout, r.stderr, tc.stderr)
		}
	}
}

// A filter that does not compile leaves an earlier recording in place:
// the output file is created only once every filter has loaded.
func TestRecordBadFilterKeepsFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "trace.json")
	if err := os.WriteFile(out, []byte("earlier"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "record", "-e", "syscalls:sys_enter_write", "-e", "syscalls:sys_exit_write", "--filter", "ret >= 3", "-o", out)
	if r.code != 1 || !strings.Contains(r.stderr, `syscalls:sys_enter_write has no field "ret"`) {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "earlier" {
		t.Errorf("the output file holds %q, %v", b, err)
	}
}

// parityExprs are filters whose kept events ebtrace and the kernel's own
// event filter must agree on, event for event.
var parityExprs = []string{
	"count >= 1000",
	"count < 10 || count == 512",
	"!(count & 3) && count > 1000",
	"count > 100 && count <= 110 && fd != 1",
	"(count == 7 || count == 9) && common_pid != 0",
	`COMM ~ "par*" && count < 4`,
	`COMM == "nobody" || count == 1024`,
}

// TestRecordParity runs the workload once per expression while both
// ebtrace and a tracefs instance with the same expression in the event's
// filter file record it, and compares the writes each kept.
func TestRecordParity(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write")
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	wl, comm := testutil.Renamed(t, testutil.Workload(t), "parity")
	instance, write := instanceEvent(t, comm, "syscalls/sys_enter_write")
	for _, expr := range parityExprs {
		t.Run(expr, func(t *testing.T) {
			os.WriteFile(filepath.Join(instance, "trace"), nil, 0o644) // clears it
			write("filter", fmt.Sprintf("(%s) && comm == %q", expr, comm))
			write("enable", "1")
			r := runCLI(t, "record", "-e", "syscalls:sys_enter_write", "--filter", expr, "-c", wl+" write 1 1024")
			write("enable", "0")
			write("filter", "0")
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			var ours []int
			for _, m := range regexp.MustCompile(`count=(\d+)\n`).FindAllStringSubmatch(r.stdout, -1) {
				n, _ := strconv.Atoi(m[1])
				ours = append(ours, n)
			}
			trace, err := os.ReadFile(filepath.Join(instance, "trace"))
			if err != nil {
				t.Fatal(err)
			}
			var kernels []int
			// The kernel prints a syscall argument under 10 in decimal, others in hex.
			for _, m := range regexp.MustCompile(`sys_write\(.*count: (0x[0-9a-f]+|\d)\)`).FindAllStringSubmatch(string(trace), -1) {
				n, _ := strconv.ParseInt(m[1], 0, 64)
				kernels = append(kernels, int(n))
			}
			if len(ours) == 0 || !slices.Equal(ours, kernels) {
				t.Fatalf("ebtrace kept %v\nthe kernel's filter kept %v", ours, kernels)
			}
			t.Logf("%q: both kept the %d writes of sizes %v", expr, len(ours), ours)
		})
	}
}

// -p records one running process's events, until it exits.
func TestRecordPid(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write")
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	// The shell waits for a line, then becomes the workload: same PID.
	target := exec.Command("sh", "-c", `read line && exec "$0" write 1 1024`, wl)
	release, err := target.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer target.Wait()
	defer target.Process.Kill()
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "record", "-e", "syscalls:sys_enter_write", "--filter", "count >= 1022",
		"-p", strconv.Itoa(target.Process.Pid))
	var stdout strings.Builder
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	errs := bufio.NewReader(stderr)
	if line, err := errs.ReadString('\n'); line != "Recording 1 event; Ctrl-C to stop\n" {
		t.Fatalf("stderr %q, %v", line, err)
	}
	// Another process's writes, which the filter would keep, are not
	// recorded.
	if err := exec.Command(wl, "write", "1025", "1030").Run(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(release, "go")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ebtrace record -p: %v", err)
	}
	if got, want := recordedText(t, stdout.String()), writeLines(t, wl, 1022, 1023, 1024); !slices.Equal(got, want) {
		t.Errorf("recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A program attached to the tracepoint after the recording began drops
// samples ebtrace's filter keeps: ebtrace says so.
func TestRecordWarnsOfLaterPrograms(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_getppid")
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "record", "-e", "syscalls:sys_enter_getppid", "-o", filepath.Join(t.TempDir(), "out.txt"))
	stderr := &testutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// lines waits (failing after a while, not hanging) for n whole lines.
	lines := func(n int) []string {
		waitFor(t, func() bool { return strings.Count(stderr.String(), "\n") >= n })
		return strings.SplitAfter(stderr.String(), "\n")[:n]
	}
	if line := lines(1)[0]; line != "Recording 1 event; Ctrl-C to stop\n" {
		t.Fatalf("stderr %q", line)
	}
	dropAll(t, "syscalls", "sys_enter_getppid")
	want := "ebtrace record: warning: another BPF program attached to syscalls:sys_enter_getppid; the events it rejects are no longer recorded\n"
	if line := lines(2)[1]; line != want {
		t.Errorf("stderr %q; want %q", line, want)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Error(err)
	}
}

// --filter-bt takes a bpftrace predicate instead of an ftrace filter.
func TestRecordBpftracePredicate(t *testing.T) {
	lockEvents(t, "syscalls:sys_enter_write")
	wl := testutil.Workload(t)
	want := writeLines(t, wl, 1020, 1022, 1024)
	r := runCLI(t, "record", "-e", "syscalls:sys_enter_write", "--filter-bt", "/args.count >= 1020 && args.count % 2 == 0/", "-c", wl+" write 1 1024")
	if r.code != 0 || r.stderr != "Recording 1 event; Ctrl-C to stop\n" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := recordedText(t, r.stdout); !slices.Equal(got, want) {
		t.Errorf("recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	r = runCLI(t, "record", "-e", "syscalls:sys_enter_write", "--filter-bt", "/args.cuont > 1/")
	if r.code != 1 || !strings.Contains(r.stderr, `error: tracepoint:syscalls:sys_enter_write has no field "cuont"`) ||
		!strings.Contains(r.stderr, "hint: did you mean count?") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// dropAll attaches, for the rest of the test, a tracepoint program that
// returns 0: the kernel then drops every perf sample of the tracepoint.
func dropAll(t *testing.T, category, name string) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.TracePoint, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	l, err := link.Tracepoint(category, name, prog, nil)
	testutil.SkipUnsupported(t, err)
	t.Cleanup(func() { l.Close() })
}

// instanceEvent makes a tracefs instance named after the test's workload
// and returns it with a function that writes a file (filter, enable) of
// event, CATEGORY/NAME, there.
func instanceEvent(t *testing.T, name, event string) (string, func(file, text string)) {
	instance := testutil.TracefsInstance(t, "/sys/kernel/tracing", name)
	return instance, func(file, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(instance, "events", event, file), []byte(text), 0o644); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
}
