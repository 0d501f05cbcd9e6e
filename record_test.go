package ebtrace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// lockSyscall takes the test's turn on the syscalls event name (see
// testutil.LockTracepoint): another test's filter program on it would
// drop the samples this one's keeps.
func lockSyscall(t *testing.T, name string) {
	t.Helper()
	events, _, err := kernel.Live()
	if err != nil {
		t.Fatal(err)
	}
	f, err := events.Format("syscalls", name)
	if err != nil {
		t.Fatal(err)
	}
	testutil.LockTracepoint(t, f.ID)
}

// record opens a recording with opts, runs it under ctx and returns what
// it wrote and lost, and what it said on Log.
func record(t *testing.T, ctx context.Context, opts ebtrace.RecordOptions) (out string, lost []uint64, log string) {
	t.Helper()
	var logBuf bytes.Buffer
	opts.Log = &logBuf
	rec, err := ebtrace.OpenRecording(opts)
	if err != nil {
		testutil.SkipUnsupported(t, err)
		t.Fatal(err)
	}
	defer rec.Close()
	if rec.Events() != len(opts.Events) {
		t.Errorf("Events() = %d, want %d", rec.Events(), len(opts.Events))
	}
	var outBuf bytes.Buffer
	lost, err = rec.Run(ctx, &outBuf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Run(ctx, &outBuf); err == nil || err.Error() != "record: Run called twice" {
		t.Errorf("a second Run: %v", err)
	}
	if err := rec.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	return outBuf.String(), lost, logBuf.String()
}

// A command's events only, as JSON, ending when it exits; Verbose says on
// Log which path the events take.
func TestRecordingCommand(t *testing.T) {
	requireKernel(t)
	lockSyscall(t, "sys_enter_getppid")
	wl := testutil.Workload(t)
	const calls = 5
	out, lost, log := record(t, context.Background(), ebtrace.RecordOptions{
		Events:  []string{"syscalls:sys_enter_getppid"},
		Command: []string{wl, "getppid", fmt.Sprint(calls)},
		Format:  ebtrace.RecordJSON,
		Verbose: true,
	})
	if want := "ebtrace record: events reach user space through perf_event + PERF_EVENT_IOC_SET_BPF\n"; log != want {
		t.Errorf("log %q, want %q", log, want)
	}
	comm := filepath.Base(wl)[:min(len(filepath.Base(wl)), 15)]
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != calls {
		t.Fatalf("%d lines, want %d events:\n%s", len(lines), calls, out)
	}
	for _, line := range lines {
		var e struct {
			Type, Event, Comm string
			PID, TID          int
			Fields            map[string]any
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if e.Type != "event" || e.Event != "syscalls:sys_enter_getppid" || e.Comm != comm || e.PID <= 0 ||
			e.Fields["__syscall_nr"] != float64(unix.SYS_GETPPID) {
			t.Errorf("event %+v", e)
		}
	}
	if slices.ContainsFunc(lost, func(n uint64) bool { return n > 0 }) {
		t.Errorf("lost %v of %d events", lost, calls)
	}
}

// FilterBT keeps what the bpftrace predicate accepts, in text.
func TestRecordingPredicate(t *testing.T) {
	requireKernel(t)
	lockSyscall(t, "sys_enter_write")
	wl := testutil.Workload(t)
	out, _, log := record(t, context.Background(), ebtrace.RecordOptions{
		Events:   []string{"syscalls:sys_enter_write"},
		FilterBT: "/args.count > 7/",
		Command:  []string{wl, "write", "1", "10"},
	})
	line := regexp.MustCompile(`^ *\S+-\d+ +\[\d{3}\] \d+\.\d{6}: sys_enter_write: __syscall_nr=1 fd=\d+ buf=0x[0-9a-f]+ count=(\d+)$`)
	var counts []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q", l)
		}
		counts = append(counts, m[1])
	}
	if want := []string{"8", "9", "10"}; !slices.Equal(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	if log != "" {
		t.Errorf("log %q without Verbose", log)
	}
}

// Without PID or Command the recording leaves this process out, and a
// cancelled context ends Run once the buffers are read.
func TestRecordingLeavesItselfOut(t *testing.T) {
	requireKernel(t)
	lockSyscall(t, "sys_enter_getppid")
	ctx, cancel := context.WithCancel(context.Background())
	rec, err := ebtrace.OpenRecording(ebtrace.RecordOptions{
		Events: []string{"syscalls:sys_enter_getppid"},
		Filter: fmt.Sprintf("common_pid == %d", os.Getpid()),
	})
	if err != nil {
		testutil.SkipUnsupported(t, err)
		t.Fatal(err)
	}
	defer rec.Close()
	unix.Getppid()
	cancel()
	var out bytes.Buffer
	if _, err := rec.Run(ctx, &out); err != nil || out.Len() != 0 {
		t.Errorf("recorded %q, %v; want nothing of this process", out.String(), err)
	}
}

// Options that cannot work are errors before anything loads.
func TestRecordingOptions(t *testing.T) {
	for _, tc := range []struct {
		opts ebtrace.RecordOptions
		want string
	}{
		{ebtrace.RecordOptions{}, "record: no event to record"},
		{ebtrace.RecordOptions{Events: []string{"a:b"}, PID: 1, Command: []string{"true"}}, "record: PID and Command exclude each other"},
		{ebtrace.RecordOptions{Events: []string{"a:b"}, Filter: "x", FilterBT: "/y/"}, "record: Filter and FilterBT exclude each other"},
		{ebtrace.RecordOptions{Events: []string{"a:b"}, Format: "yaml"}, `unknown output format "yaml": want text, json, chrome or ebt`},
	} {
		if _, err := ebtrace.OpenRecording(tc.opts); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %s", tc.opts, err, tc.want)
		}
	}
}

// Mistakes in the events, the filters and the process are told apart.
func TestRecordingMistakes(t *testing.T) {
	requireKernel(t)
	_, err := ebtrace.OpenRecording(ebtrace.RecordOptions{Events: []string{"syscalls:sys_enter_opnat"}})
	if want := "unknown event syscalls:sys_enter_opnat (did you mean syscalls:sys_enter_openat, syscalls:sys_enter_openat2, syscalls:sys_enter_creat?)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}

	_, err = ebtrace.OpenRecording(ebtrace.RecordOptions{Events: []string{"syscalls:sys_enter_write"}, Filter: `buf < "x"`})
	var ce *ebtrace.CompileError
	if !errors.As(err, &ce) || len(ce.Diagnostics) != 1 {
		t.Fatalf("got %v, want one diagnostic", err)
	}
	got := ce.Diagnostics[0]
	d := ebtrace.Diagnostic{File: got.File, Line: got.Line, Column: got.Column, Message: got.Message, Hints: got.Hints}
	want := ebtrace.Diagnostic{File: "filter", Line: 1, Column: 5, Message: "buf is a string (const char *); strings compare with ==, != or ~, not <",
		Hints: []string{`use ~ for a glob match, e.g. buf ~ "ba*"`}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("diagnostic %+v, want %+v", d, want)
	}

	_, err = ebtrace.OpenRecording(ebtrace.RecordOptions{Events: []string{"syscalls:sys_enter_write"}, FilterBT: "/args.cuont > 1/"})
	if !errors.As(err, &ce) || len(ce.Diagnostics) != 1 || ce.Diagnostics[0].Message != `tracepoint:syscalls:sys_enter_write has no field "cuont"` {
		t.Errorf("got %v, want the predicate's unknown field", err)
	}

	// A process that has exited and been reaped is gone.
	gone := reaped(t)
	_, err = ebtrace.OpenRecording(ebtrace.RecordOptions{Events: []string{"syscalls:sys_enter_write"}, PID: gone})
	if !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d: got %v, want ESRCH", gone, err)
	}
}

// reaped runs true(1) to its end and returns its pid.
func reaped(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}
