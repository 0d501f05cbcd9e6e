package tracer_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/tracer"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// runBench runs BEGIN, then the bench probes as --bench does, on a ring
// buffer of one page, and finishes the session.
func runBench(t *testing.T, script string) string {
	t.Helper()
	opts := compile.Options{Plan: plan.Options{RingSize: 4096, MaxEntries: 16}}
	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), script, opts)
	out, _ := tracetest.Session(t, res, output.NewText, func(obj *load.Object, sess *tracer.Session) error {
		if err := obj.Run(probe.Begin); err != nil {
			return err
		}
		return sess.Bench(20 * time.Millisecond)
	})
	return out
}

// The events a bench probe sends fill the ring many times over and are
// dropped on purpose: they are not reported as lost, while what BEGIN
// lost still is.
func TestBenchLosesNothing(t *testing.T) {
	if out := runBench(t, `bench:p { printf("x\n"); }`); strings.Contains(out, "Lost") {
		t.Errorf("output %q reports lost events", out)
	}
	begin := "BEGIN {" + strings.Repeat(`printf("%d\n", 1);`, 300) + "}\n"
	out := runBench(t, begin+`bench:p { printf("x\n"); }`)
	printed := strings.Count(out, "1\n")
	lost := 0
	if i := strings.Index(out, "Lost "); i >= 0 {
		fmt.Sscanf(out[i:], "Lost %d events", &lost)
	}
	if lost == 0 || printed+lost != 300 {
		t.Errorf("printed %d, lost %d, want them to add up to 300 with some lost:\n%s", printed, lost, out)
	}
}
