package bench

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/shell"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// BenchmarkShellAttach times what `ebtrace shell` does from Enter to
// "attached" for one tracepoint block, in a session that already holds
// one probe writing the same map: compile the whole session, load the new
// program on the shared maps, attach it. Detaching (the kernel's grace
// period per tracepoint) is not timed. Issue 14's bar is 50 ms; it
// reports the median of the runs (-benchtime=20x for 20).
func BenchmarkShellAttach(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireTracefs(b)
	env := &probe.Env{Events: sync.OnceValues(func() (*kernel.Events, error) {
		ev, _, err := kernel.Live()
		return ev, err
	})}
	s, err := shell.New(shell.Options{
		Registry: all.Registry(), Env: env, Out: io.Discard, Warn: io.Discard,
		Compile: compile.Options{Plan: plan.DefaultOptions},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Add(`tracepoint:syscalls:sys_enter_getppid { @calls[comm] = count(); }`); err != nil {
		b.Fatal(err)
	}
	var times []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		lines, err := s.Add(`tracepoint:syscalls:sys_exit_getppid { @calls["exit"] = count(); }`)
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if want := fmt.Sprintf("attached #%d: tracepoint:syscalls:sys_exit_getppid", i+2); len(lines) != 1 || lines[0] != want {
			b.Fatalf("said %q, want %q", lines, want)
		}
		b.StopTimer()
		if err := s.Detach(i + 2); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
}
