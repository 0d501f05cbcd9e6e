package tracer

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
)

// Test runs every test probe once, in script order, in place of tracing
// (--test), and reports each one's result: it passes when it returns 0,
// calls no errorf() and no exit() with a non-zero code. What a test prints
// is kept, through a writer capture makes, and shown only when it fails.
// Test returns how many failed.
func (s *Session) Test(capture func(io.Writer) output.Writer) (failed int, err error) {
	// What BEGIN printed is the script's output.
	if err := s.drain(); err != nil {
		return 0, err
	}
	out := s.out
	defer func() { s.out = out }()
	for _, p := range s.b.Programs(probe.Test) {
		var printed bytes.Buffer
		s.out = capture(&printed)
		s.exited, s.exitCode, s.errors = false, 0, 0
		ret, err := s.b.RunOnce(p)
		if err != nil {
			return failed, err
		}
		if err := s.drain(); err != nil {
			return failed, err
		}
		if err := s.out.Flush(); err != nil {
			return failed, err
		}
		var reasons []string
		if ret != 0 {
			reasons = append(reasons, fmt.Sprintf("returned %d", int32(ret)))
		}
		if s.exitCode != 0 {
			reasons = append(reasons, fmt.Sprintf("exit(%d)", s.exitCode))
		}
		if s.errors > 0 {
			reasons = append(reasons, source.Count(s.errors, "error"))
		}
		if len(reasons) > 0 {
			failed++
		}
		out.TestResult(output.TestResult{
			Name: p.Instance.Instance.Name(), Passed: len(reasons) == 0,
			Reason: strings.Join(reasons, ", "), Output: printed.String(),
		})
	}
	s.exited, s.exitCode = false, 0
	return failed, nil
}

// Bench runs every bench probe over and over for about d each, in script
// order, in place of tracing (--bench), and reports their mean run times
// by name.
// The events they send are dropped: a printf run a hundred thousand times
// over is not the script's output, nor are the events the full ring
// refused meanwhile lost from it.
func (s *Session) Bench(d time.Duration) error {
	if err := s.drain(); err != nil {
		return err
	}
	lostBefore, err := s.lost()
	if err != nil {
		return err
	}
	var results []output.Benchmark
	for _, p := range s.b.Programs(probe.Bench) {
		mean, err := s.b.Benchmark(p, d)
		if err != nil {
			return err
		}
		if err := s.discard(); err != nil {
			return err
		}
		name := strings.TrimPrefix(p.Instance.Instance.Name(), "bench:")
		results = append(results, output.Benchmark{Name: name, Nanoseconds: mean.Nanoseconds()})
	}
	lostAfter, err := s.lost()
	if err != nil {
		return err
	}
	s.benchLost = lostAfter - lostBefore
	s.exited, s.exitCode = false, 0
	s.benched = true
	slices.SortStableFunc(results, func(a, b output.Benchmark) int { return cmp.Compare(a.Name, b.Name) })
	s.out.Benchmarks(results)
	return nil
}

// watchSignals starts receiving the signals the self probes run on; until
// then each keeps its default action.
func (s *Session) watchSignals() {
	for _, p := range s.b.Programs(probe.Signal) {
		sig := p.Instance.Instance.(probe.Signaled).Signal()
		if s.signals == nil {
			s.signals = make(chan os.Signal, 1)
		}
		signal.Notify(s.signals, sig)
	}
}

// onSignal runs the self probes of sig, in script order.
func (s *Session) onSignal(sig os.Signal) error {
	for _, p := range s.b.Programs(probe.Signal) {
		if p.Instance.Instance.(probe.Signaled).Signal() == sig {
			if _, err := s.b.RunOnce(p); err != nil {
				return err
			}
		}
	}
	return nil
}
