package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// traceMessages reads the lines of a tracefs instance's trace buffer whose
// event is event (bpf_trace_printk, kmalloc) and returns what follows
// "EVENT: " on each, in order.
func traceMessages(t *testing.T, instance, event string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(instance, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, line := range strings.Split(string(b), "\n") {
		if _, msg, ok := strings.Cut(line, " "+event+": "); ok && !strings.HasPrefix(line, "#") {
			msgs = append(msgs, msg)
		}
	}
	return msgs
}

// TestDebugf prints through bpf_trace_printk (up to three values) and
// bpf_trace_vprintk (more) from BEGIN and from the workload's getppid
// calls. The lines go to the kernel's trace buffer, read here from an
// instance of its own that enables the bpf_trace_printk event.
func TestDebugf(t *testing.T) {
	wl := testutil.Workload(t)
	tag := fmt.Sprintf("ebtrace-debugf-%d", os.Getpid())
	instance, write := instanceEvent(t, tag, "bpf_trace/bpf_trace_printk")
	write("enable", "1")
	script := `BEGIN { debugf("` + tag + ` begin %d %s %5d|%-4x|%c %lld %u %d %d\n", 1, "two", 3, 255, 65, -6, 7, 8, 9); }
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @n++; debugf("` + tag + ` call %d of %s\n", @n, comm); }`
	r := runCLI(t, "-e", script, "-c", wl+" getppid 3")
	r.want(t, 0, "\n\n@n: 3\n")
	var got []string
	for _, m := range traceMessages(t, instance, "bpf_trace_printk") {
		if strings.HasPrefix(m, tag) {
			got = append(got, strings.TrimPrefix(m, tag+" "))
		}
	}
	comm := commOf(wl)
	want := []string{
		"begin 1 two     3|ff  |A -6 7 8 9",
		"call 1 of " + comm, "call 2 of " + comm, "call 3 of " + comm,
	}
	if !slices.Equal(got, want) {
		t.Errorf("trace lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPrintfGFP prints the GFP flags of the workload's kmalloc calls with
// %gr and compares them with what the kernel's own trace output names for
// the same events, recorded in a tracefs instance: each line ebtrace
// prints must be one the kernel printed (the kernel shows no flags as
// "none", %gr as nothing). Both see only events of the workload's comm.
func TestPrintfGFP(t *testing.T) {
	wl := testutil.Workload(t)
	instance, write := instanceEvent(t, fmt.Sprintf("ebtrace-gfp-%d", os.Getpid()), "kmem/kmalloc")
	write("filter", fmt.Sprintf("COMM == %q", commOf(wl)))
	write("enable", "1")
	// The command's events before its exec carry the launcher's comm.
	script := fmt.Sprintf(`tracepoint:kmem:kmalloc /pid == cpid && comm == %q/ {
	printf("bytes_req=%%d bytes_alloc=%%d gfp_flags=%%gr\n", args.bytes_req, args.bytes_alloc, args.gfp_flags);
}`, commOf(wl))
	r := runCLI(t, "-q", "-e", script, "-c", wl+" getppid 3")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	kernelSaw := map[string]bool{}
	for _, m := range traceMessages(t, instance, "kmalloc") {
		var fields []string
		for _, f := range strings.Fields(m) {
			if strings.HasPrefix(f, "bytes_") || strings.HasPrefix(f, "gfp_flags=") {
				fields = append(fields, f)
			}
		}
		kernelSaw[strings.Join(fields, " ")] = true
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 2 || lines[0] == "" {
		t.Fatalf("ebtrace printed too few lines:\n%s", r.stdout)
	}
	named := 0
	for _, l := range lines {
		if strings.HasSuffix(l, "gfp_flags=") {
			l += "none"
		}
		if !kernelSaw[l] {
			t.Errorf("the kernel printed no kmalloc as %q", l)
		}
		if strings.Contains(l, "GFP_") {
			named++
		}
	}
	if named == 0 {
		t.Errorf("no line names a GFP flag:\n%s", r.stdout)
	}
}

// TestCompileTimeFunctions runs a script whose fail() is reached or not
// as its positional parameter says; default_str_length follows
// max_strlen.
func TestCompileTimeFunctions(t *testing.T) {
	const script = `config = { max_strlen = 100 }
BEGIN { if ($1 < 2) { fail("needs more than 1, got %d", $1); } static_assert($# == 1, "one parameter"); assert_str(comm);
	printf("%d %d\n", $1, default_str_length); exit(); }`
	runCLI(t, "-e", script, "5").want(t, 0, "5 100\n\n\n")
	r := runCLI(t, "-e", script, "1")
	r.want(t, 1, "")
	want := `stdin:2:23: error: needs more than 1, got 1
    BEGIN { if ($1 < 2) { fail("needs more than 1, got %d", $1); } static_assert($# == 1, "one parameter"); assert_str(comm);
                          ^` + strings.Repeat("~", 36) + `
`
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}

// TestFind looks keys up with find(): a hit sets the variable from the
// map, a miss leaves it as it was.
func TestFind(t *testing.T) {
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @n++; @calls[@n] = @n * 10; @name[@n] = comm; }
END {
	let $v = 5; $s = "none";
	printf("%d %d %d %s\n", find(@calls, 2, $v), $v, find(@name, 3, $s), $s);
	printf("%d %d %d %s\n", find(@calls, 9, $v), $v, find(@name, 9, $s), $s);
	clear(@calls); clear(@name);
}`
	runCLI(t, "-e", script, "-c", wl+" getppid 3").want(t, 0, "1 20 1 "+commOf(wl)+"\n0 20 0 "+commOf(wl)+"\n"+
		// Then the maps, sorted, the cleared ones empty.
		"\n\n\n@n: 3\n\n")
}
