package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestTiming runs a tracepoint script with EBTRACE_TIMING=1, as a parent
// that says when it spawned ebtrace and as one that does not: the
// breakdown follows the attach line, its spans add up to its total.
func TestTiming(t *testing.T) {
	var now unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
	span := `(\d+\.\d) ms`
	spans := `package init ` + span + `, compile ` + span + `, load ` + span + `, attach ` + span + `, other (-?\d+\.\d) ms; ` + span
	for _, c := range []struct {
		env  []string
		line *regexp.Regexp
	}{
		{[]string{"EBTRACE_TIMING=1", "EBTRACE_SPAWN_NS=" + strconv.FormatInt(now.Nano(), 10)},
			regexp.MustCompile(`^timing: exec and runtime init ` + span + `, ` + spans + ` from spawn to attached$`)},
		{[]string{"EBTRACE_TIMING=1"},
			regexp.MustCompile(`^timing: ` + spans + ` from ebtrace's first package init \(no EBTRACE_SPAWN_NS: exec and runtime init not seen\) to attached$`)},
	} {
		r := ebtraceEnv(t, c.env, "-e", `tracepoint:syscalls:sys_enter_getppid { } BEGIN { exit(); }`)
		r.want(t, 0, "\n\n")
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if len(lines) != 2 || lines[0] != "Attached 2 probes" {
			t.Fatalf("%v: stderr %q, want the attach line and the timing line", c.env, r.stderr)
		}
		m := c.line.FindStringSubmatch(lines[1])
		if m == nil {
			t.Fatalf("%v: timing line %q does not match %s", c.env, lines[1], c.line)
		}
		// The spans, other included, add up to the total, each rounded.
		var sum float64
		for _, s := range m[1 : len(m)-1] {
			v, _ := strconv.ParseFloat(s, 64)
			sum += v
		}
		total, _ := strconv.ParseFloat(m[len(m)-1], 64)
		if d := sum - total; d < -0.05*float64(len(m)) || d > 0.05*float64(len(m)) {
			t.Errorf("%v: spans add up to %.1f ms, the total is %.1f ms: %q", c.env, sum, total, lines[1])
		}
	}
	r := ebtraceEnv(t, []string{"EBTRACE_TIMING=yes"}, "-e", `BEGIN { exit(); }`)
	if r.code != 1 || !strings.Contains(r.stderr, `EBTRACE_TIMING="yes": set it to 1 or 0`) {
		t.Errorf("EBTRACE_TIMING=yes: exit %d, stderr %q; want it refused", r.code, r.stderr)
	}
}

// TestStartupInitialisedFirst holds what EBTRACE_TIMING's package init
// span counts from: internal/startup is the first of ebtrace's packages
// that Go initialises.
func TestStartupInitialisedFirst(t *testing.T) {
	cmd := exec.Command(testutil.Build(t, "./cmd/ebtrace"), "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	first := regexp.MustCompile(`(?m)^init (github\.com/ebtrace/ebtrace\S*) @`).FindStringSubmatch(string(out))
	if first == nil || first[1] != "github.com/ebtrace/ebtrace/internal/startup" {
		t.Errorf("the first ebtrace package initialised is %q, want internal/startup:\n%s", first, out)
	}
}
