package ebtrace

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

func TestTimingLine(t *testing.T) {
	at := func(us int) time.Time { return time.Unix(1000, 0).Add(time.Duration(us) * time.Microsecond) }
	s := sessionTiming{start: at(7500), loaded: at(9000), attached: at(9420)}
	tm := &timing{spawn: at(0), compileStart: at(4250), compileEnd: at(7050)}
	want := "timing: exec and runtime init 2.0 ms, package init 1.5 ms, compile 2.8 ms, load 1.5 ms, attach 0.4 ms, other 1.2 ms; 9.4 ms from spawn to attached\n"
	if got := tm.line(at(2000), at(3500), s); got != want {
		t.Errorf("with the spawn time:\n got %q\nwant %q", got, want)
	}
	tm.spawn = time.Time{}
	want = "timing: package init 1.5 ms, compile 2.8 ms, load 1.5 ms, attach 0.4 ms, other 1.2 ms; 7.4 ms from ebtrace's first package init (no EBTRACE_SPAWN_NS: exec and runtime init not seen) to attached\n"
	if got := tm.line(at(2000), at(3500), s); got != want {
		t.Errorf("without it:\n got %q\nwant %q", got, want)
	}
}

func TestTimingEnv(t *testing.T) {
	env := func(vars ...string) func(string) string {
		return func(name string) string {
			for i := 0; i < len(vars); i += 2 {
				if vars[i] == name {
					return vars[i+1]
				}
			}
			return ""
		}
	}
	for _, getenv := range []func(string) string{nil, env(), env("EBTRACE_TIMING", "0")} {
		if tm, err := newTiming(getenv); tm != nil || err != nil {
			t.Errorf("timing off: got %v, %v", tm, err)
		}
	}
	tm, err := newTiming(env("EBTRACE_TIMING", "1"))
	if err != nil || tm == nil || !tm.spawn.IsZero() {
		t.Fatalf("EBTRACE_TIMING=1 alone: got %+v, %v; want marks without a spawn time", tm, err)
	}
	if _, err := newTiming(env("EBTRACE_TIMING", "yes")); err == nil || !strings.Contains(err.Error(), `EBTRACE_TIMING="yes": set it to 1 or 0`) {
		t.Errorf("EBTRACE_TIMING=yes: got %v, want it refused", err)
	}
	// The spawn time is CLOCK_MONOTONIC: a moment 5 ms ago is 5 ms
	// before now on Go's clock too. One in the future, or not a number,
	// is no spawn time.
	before := time.Now()
	spawn := kernel.MonotonicNow() - uint64(5*time.Millisecond)
	tm, err = newTiming(env("EBTRACE_TIMING", "1", "EBTRACE_SPAWN_NS", strconv.FormatUint(spawn, 10)))
	if err != nil {
		t.Fatal(err)
	}
	// The two clocks are read a moment apart, hence the slack.
	if ago := time.Since(tm.spawn); ago < 5*time.Millisecond || ago > 6*time.Millisecond+2*time.Since(before) {
		t.Errorf("spawn %v ago, want 5 ms (and the test's run time) ago", ago)
	}
	for _, bad := range []string{strconv.FormatUint(kernel.MonotonicNow()+uint64(time.Hour), 10), "soon", "-5"} {
		tm, err := newTiming(env("EBTRACE_TIMING", "1", "EBTRACE_SPAWN_NS", bad))
		if err != nil || !tm.spawn.IsZero() {
			t.Errorf("EBTRACE_SPAWN_NS=%s: got spawn %v, %v; want none", bad, tm.spawn, err)
		}
	}
}
