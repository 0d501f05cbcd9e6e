package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// requireCountSlots skips where the kernel cannot run the flush program
// on a chosen CPU, which count slots need.
func requireCountSlots(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	if err := load.CountSlots(); err != nil {
		t.Skipf("this kernel has no count slots: %v", err)
	}
}

// TestCountSlots: count() and sum() maps that only those assignments
// write keep a slot on each CPU (internal/plan/slots.go). With threads on
// every CPU changing the key all the time, the totals are exact, as they
// are without slots, and prints while tracing never go down.
func TestCountSlots(t *testing.T) {
	requireCountSlots(t)
	wl := testutil.Workload(t)
	const threads, calls = 4, 20000
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls[tid] = count(); @n = count(); @total = sum(3); }
interval:ms:2 { print(@n); }`
	plan := runCLI(t, "-d", "plan", "-e", script)
	if n := strings.Count(plan.stdout, `"Slotted": true`); n != 3 {
		t.Fatalf("%d maps have slots, want 3:\n%s", n, plan.stdout)
	}
	final := regexp.MustCompile(fmt.Sprintf(`(?s)\n\n(@calls\[\d+\]: %d\n){%d}@n: %d\n@total: %d\n$`, calls, threads, threads*calls, 3*threads*calls))
	for _, env := range []string{"EBTRACE_COUNT_SLOTS=1", "EBTRACE_COUNT_SLOTS=0"} {
		r := ebtraceEnv(t, []string{env}, "-e", script, "-c", fmt.Sprintf("%s threads %d %d", wl, threads, calls))
		if r.code != 0 || !final.MatchString(r.stdout) {
			t.Fatalf("%s: exit %d, stdout ends:\n%s\nstderr:\n%s", env, r.code, tail(r.stdout, 8), r.stderr)
		}
		prev := int64(0)
		for line := range strings.Lines(r.stdout) {
			v, ok := strings.CutPrefix(strings.TrimSpace(line), "@n: ")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < prev || n > threads*calls {
				t.Fatalf("%s: @n went from %d to %q", env, prev, v)
			}
			prev = n
		}
	}
}

// TestCountSlotsReset: clear() and zero() reset what the slots hold too,
// and print() shows it, in END after the events.
func TestCountSlotsReset(t *testing.T) {
	requireCountSlots(t)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_write /pid == cpid/ { @w = count(); @by[1] = count(); @bytes[2] = sum(args.count); }
END { print(@w); print(@by); print(@bytes); clear(@w); zero(@by); zero(@bytes); print(@w); print(@by); print(@bytes); }`, "-c", wl+" write 1 10")
	r.want(t, 0, "@w: 10\n@by[1]: 10\n@bytes[2]: 55\n@w: 0\n@by[1]: 0\n@bytes[2]: 0\n\n\n@by[1]: 0\n@bytes[2]: 0\n@w: 0\n")
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
