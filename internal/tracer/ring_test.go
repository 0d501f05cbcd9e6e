package tracer_test

import (
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

// TestRingOnlyWhenUsed: a script whose programs send no events gets no
// ring buffer (creating one took a millisecond of start-up), unless the
// compiler is told to keep it, as the shell does; such a script still
// traces, and its loop still ends when told to.
func TestRingOnlyWhenUsed(t *testing.T) {
	const silent = `BEGIN { @n = count(); @s[1] = sum(5); }`
	for _, c := range []struct {
		script string
		keep   bool
		want   bool
	}{
		{silent, false, false},
		{silent, true, true},
		{`BEGIN { printf("hi\n"); }`, false, true},
		{`BEGIN { exit(); }`, false, true},
	} {
		res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), c.script, compile.Options{Plan: plan.DefaultOptions, KeepRing: c.keep})
		_, inSpec := res.Spec().Maps[plan.EventsMap]
		if res.Ring != c.want || inSpec != c.want {
			t.Errorf("%s (keep %v): Ring %v, in the spec %v; want %v", c.script, c.keep, res.Ring, inSpec, c.want)
		}
	}

	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), silent, compile.Options{Plan: plan.DefaultOptions})
	var looped time.Duration
	out, warn := tracetest.Session(t, res, output.NewText, func(obj *load.Object, sess *tracer.Session) error {
		if err := obj.Run(probe.Begin); err != nil {
			return err
		}
		stop := make(chan struct{})
		time.AfterFunc(50*time.Millisecond, func() { close(stop) })
		start := time.Now()
		err := sess.Loop(stop)
		looped = time.Since(start)
		return err
	})
	if want := "\n\n@n: 1\n@s[1]: 5\n"; out != want || warn != "" {
		t.Errorf("got output %q and warnings %q, want %q and none", out, warn, want)
	}
	// The loop waits out each poll interval for records that never come,
	// and sees stop between them.
	if looped < 50*time.Millisecond || looped > 50*time.Millisecond+10*tracer.PollInterval {
		t.Errorf("the loop ended %v after it began; stop was closed after 50ms", looped)
	}
}
