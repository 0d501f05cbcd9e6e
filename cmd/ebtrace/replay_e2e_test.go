package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// replayScripts cover what a replay must get exactly as the live run did,
// on the same events: counts, sums, hist, lhist, stats, avg, min, max,
// string keys and values, tuples, printf, predicates on strings and
// fields, comm, pid, tid, cpu, nsecs, BEGIN, END and exit codes. %s is the
// workload's comm.
var replayScripts = []string{
	`tracepoint:syscalls:sys_enter_write /comm == "%s"/ { @calls[comm, pid, tid] = count(); @cpus[cpu] = count(); }`,
	`tracepoint:syscalls:sys_enter_write /comm == "%s"/ { @h = hist(args.count); @l = lhist(args.count, 0, 300, 50); @s = stats(args.count); @a = avg(args.count); @lo = min(args.count); @hi = max(args.count); }`,
	`tracepoint:syscalls:sys_enter_write /comm == "%s" && args.count %% 7 == 0/ { printf("%%s %%d %%d %%d\n", comm, pid, tid, args.count); }`,
	`tracepoint:syscalls:sys_enter_write /comm == "%s"/ { @t[comm, args.count %% 3] = sum(args.count); @last = comm; @odd[args.count & 1 ? "odd" : "even"] = count(); }`,
	`BEGIN { printf("begin\n"); } tracepoint:syscalls:sys_exit_write /comm == "%s" && nsecs > 0/ { @ret = sum(args.ret); @exits = count(); } END { printf("end\n"); }`,
}

// TestReplayMatchesLive traces one run of the workload with each script
// and records the same run; replaying the recording with each script must
// print exactly what the live run printed.
func TestReplayMatchesLive(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	comm := commOf(wl)
	rec := filepath.Join(t.TempDir(), "w.ebt")
	var live []*background
	for _, script := range replayScripts {
		live = append(live, startBackground(t, "Attached", "-e", fmt.Sprintf(script, comm)))
	}
	// The recorder comes last: it sees the scripts' programs on the
	// tracepoints and takes its ring buffer path, where their return
	// values cannot drop events from its recording.
	recorder := startBackground(t, "Recording", "record", "-e", "syscalls:sys_enter_write", "-e", "syscalls:sys_exit_write", "-o", rec)
	if out, err := exec.Command(wl, "write", "1", "300").CombinedOutput(); err != nil {
		t.Fatalf("workload: %v: %s", err, out)
	}
	time.Sleep(200 * time.Millisecond) // for the last events to reach the buffers
	recorder.stop(t)
	for i, script := range replayScripts {
		script = fmt.Sprintf(script, comm)
		want := live[i].stop(t)
		if !strings.Contains(want, "\n") {
			t.Fatalf("%s: the live run printed nothing", script)
		}
		got := runCLI(t, "replay", "-e", script, rec)
		if got.code != 0 || got.stdout != want {
			t.Errorf("%s\nreplay (exit %d, stderr %q):\n%s\nlive:\n%s", script, got.code, got.stderr, got.stdout, want)
		}
	}
}

// A replay names what it cannot do.
func TestReplayMistakes(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	wl := testutil.Workload(t)
	rec := filepath.Join(t.TempDir(), "w.ebt")
	if r := runCLI(t, "record", "-e", "syscalls:sys_enter_write", "-o", rec, "-c", wl+" write 1 3"); r.code != 0 {
		t.Fatalf("record: %d %s", r.code, r.stderr)
	}
	for _, c := range []struct{ script, stderr string }{
		{`tracepoint:syscalls:sys_enter_read { @ = count(); }`, `stdin:1:1: error: tracepoint:syscalls:sys_enter_read is not in the recording
    tracepoint:syscalls:sys_enter_read { @ = count(); }
    ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
hint: did you mean tracepoint:syscalls:sys_enter_write?
hint: no probe of the script exists on this system, so there is nothing to trace
`},
		{`profile:hz:99 { @ = count(); }`, "ebtrace: a replay runs tracepoint probes on the recording's events, BEGIN, END and interval probes, not profile:hz:99; the recording holds tracepoint:syscalls:sys_enter_write\n"},
		{`tracepoint:syscalls:sys_enter_write { @[kstack] = count(); }`, "ebtrace: program ebt_p0: stdin:1:39: instruction 9 (Call FnGetStackid): not available in the user-space engine: helper bpf_get_stackid\n"},
	} {
		r := runCLI(t, "replay", "-e", c.script, rec)
		if r.code != 1 || r.stderr != c.stderr {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant:\n%s", c.script, r.code, r.stderr, c.stderr)
		}
	}
	r := runCLI(t, "replay", "-e", `BEGIN { @n = 0; } interval:ms:1 { @n++; } tracepoint:syscalls:sys_enter_write { @w = count(); } END { printf("%d\n", @n > 0); exit(4); }`, rec)
	if r.code != 4 || !strings.HasPrefix(r.stdout, "1\n") {
		t.Errorf("interval and exit code: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
