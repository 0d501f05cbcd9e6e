package ebtrace

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/startup"
)

// The environment variables of the start-up breakdown, read through
// Options.Getenv.
const (
	// timingEnv set to 1 prints the breakdown on Log after the attach line.
	timingEnv = "EBTRACE_TIMING"
	// spawnEnv is when a parent spawned this process, in CLOCK_MONOTONIC
	// nanoseconds: the kernel keeps a process's start only in clock
	// ticks, too coarse for a start-up of a few milliseconds.
	spawnEnv = "EBTRACE_SPAWN_NS"
)

// packageInit is when this package was initialised: where the package
// initialisation the breakdown shows ends. The packages that import this
// one (serve, the command line's main) initialise after it, in "other".
var packageInit = time.Now()

// timing holds the marks of one script's way from the process's start to
// its attached probes.
type timing struct {
	spawn        time.Time // zero when no parent said
	compileStart time.Time
	compileEnd   time.Time
}

// newTiming returns the marks to fill when getenv asks for the breakdown,
// nil when it does not. It reads the spawn time now, while CLOCK_MONOTONIC
// and Go's clock can be read together.
func newTiming(getenv func(string) string) (*timing, error) {
	if getenv == nil {
		return nil, nil
	}
	on, err := envBool(timingEnv, getenv(timingEnv))
	if err != nil || !on {
		return nil, err
	}
	t := &timing{compileStart: time.Now()}
	if ns, err := strconv.ParseUint(getenv(spawnEnv), 10, 64); err == nil {
		if now := kernel.MonotonicNow(); ns <= now {
			t.spawn = t.compileStart.Add(-time.Duration(now - ns))
		}
	}
	return t, nil
}

// envBool reads a boolean environment setting: empty is false.
func envBool(name, v string) (bool, error) {
	switch v {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q: set it to 1 or 0", name, v)
}

// sessionTiming holds the marks of one Start: its call, the programs
// loaded (BEGIN run), the probes attached.
type sessionTiming struct {
	start, loaded, attached time.Time
}

// write prints the breakdown as one line on w.
func (t *timing) write(w io.Writer, s sessionTiming) {
	io.WriteString(w, t.line(startup.Init, packageInit, s))
}

// line is the breakdown, given when the module's first package (init) and
// this package (main) were initialised. Its spans follow one another
// where they can: what falls between them (the command line's flags,
// reading the script, the output's set-up) is "other".
func (t *timing) line(init, main time.Time, s sessionTiming) string {
	origin, from := t.spawn, "spawn"
	var parts []string
	var sum time.Duration
	span := func(name string, a, b time.Time) {
		parts = append(parts, name+" "+ms(b.Sub(a)))
		sum += b.Sub(a)
	}
	if origin.IsZero() {
		origin, from = init, "ebtrace's first package init (no "+spawnEnv+": exec and runtime init not seen)"
	} else {
		span("exec and runtime init", origin, init)
	}
	span("package init", init, main)
	span("compile", t.compileStart, t.compileEnd)
	span("load", s.start, s.loaded)
	span("attach", s.loaded, s.attached)
	total := s.attached.Sub(origin)
	parts = append(parts, "other "+ms(total-sum))
	return fmt.Sprintf("timing: %s; %s from %s to attached\n", strings.Join(parts, ", "), ms(total), from)
}

// ms formats d in milliseconds to a tenth.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}
