package load

import (
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// Programs returns the loaded programs of the given kind, in script
// order.
func (o *Object) Programs(kind probe.Kind) []*compile.Program {
	var ps []*compile.Program
	for _, p := range o.Result.Programs {
		if p.Instance.Instance.Kind() == kind && o.Program(p) != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// RunOnce executes p, a program ebtrace runs itself, once and returns
// the value it returned.
func (o *Object) RunOnce(p *compile.Program) (uint32, error) {
	ret, err := o.Program(p).Run(&ebpf.RunOptions{})
	if err != nil {
		return 0, fmt.Errorf("run %s: %w", p.Instance.Instance.Name(), err)
	}
	return ret, nil
}

// Benchmark runs p over and over for about d and returns how long one run
// took in the kernel, on average, and how many runs that average is of.
// BPF_PROG_TEST_RUN cannot repeat a raw_tracepoint program itself, and a
// run per system call costs far more than the program, so the time is the
// kernel's own: the BPF statistics (enabled while measuring) add up each
// program's run time around the program alone.
func (o *Object) Benchmark(p *compile.Program, d time.Duration) (time.Duration, uint64, error) {
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		return 0, 0, fmt.Errorf("enable BPF run time statistics: %w", err)
	}
	defer stats.Close()
	prog := o.Program(p)
	before, err := prog.Stats()
	if err != nil {
		return 0, 0, err
	}
	for start := time.Now(); time.Since(start) < d; {
		for range 1000 {
			if _, err := o.RunOnce(p); err != nil {
				return 0, 0, err
			}
		}
	}
	after, err := prog.Stats()
	if err != nil {
		return 0, 0, err
	}
	runs := after.RunCount - before.RunCount
	if runs == 0 {
		return 0, 0, fmt.Errorf("bench %s: the kernel counted no runs (BPF statistics need Linux 5.8)", p.Instance.Instance.Name())
	}
	return (after.Runtime - before.Runtime) / time.Duration(runs), runs, nil
}
