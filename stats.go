package ebtrace

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// Losses are what a session could not keep, so far.
type Losses struct {
	// Events counts the events the kernel could not queue for lack of
	// room in the buffer it shares with this process.
	Events uint64
	// MapFull counts, by map name with its @, the updates dropped
	// because the map was full; maps that dropped none are absent.
	MapFull map[string]uint64
}

// Losses reads what the session has lost so far; after it ended, what it
// lost in all.
func (s *Session) Losses() (Losses, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.final != nil {
		return s.finalLosses, nil
	}
	return s.losses()
}

// losses reads the counters the programs keep; the caller holds mu.
func (s *Session) losses() (Losses, error) {
	stats, err := s.tr.Maps().Stats()
	if err != nil {
		return Losses{}, err
	}
	l := Losses{Events: stats[plan.StatLost], MapFull: map[string]uint64{}}
	for _, pm := range s.script.res.Plan.Maps {
		if n := stats[pm.Stat]; n > 0 {
			l.MapFull["@"+pm.Name] = n
		}
	}
	return l, nil
}

// ProbeStats are the kernel's statistics of one probe's program: how
// often it ran and for how long in all.
type ProbeStats struct {
	Probe   string // as the script names it: "tracepoint:syscalls:sys_enter_read"
	Runs    uint64
	RunTime time.Duration
}

// Probes reads the kernel's statistics of each event probe's program,
// in the script's order. They count only with Options.Stats, which turns
// the kernel's BPF statistics on for the session (they cost a few tens of
// nanoseconds an event, for every BPF program on the machine).
func (s *Session) Probes() ([]ProbeStats, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.final != nil {
		return s.finalProbes, nil
	}
	return s.probes()
}

// probes reads the statistics; the caller holds mu.
func (s *Session) probes() ([]ProbeStats, error) {
	if s.obj == nil {
		return nil, nil // the user-space engine keeps no statistics
	}
	var out []ProbeStats
	for _, p := range s.obj.Programs(probe.Event) {
		st, err := s.obj.Program(p).Stats()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Instance.Instance.Name(), err)
		}
		out = append(out, ProbeStats{Probe: p.Instance.Instance.Name(), Runs: st.RunCount, RunTime: st.Runtime})
	}
	return out, nil
}

// statsSysctl is on when an administrator turned the kernel's BPF
// statistics on for everyone.
const statsSysctl = "/proc/sys/kernel/bpf_stats_enabled"

// enableStats turns the kernel's BPF run-time statistics on until the
// returned closer is closed. The kernel allows that only with
// CAP_SYS_ADMIN; without it, statistics an administrator turned on with
// the sysctl serve as well, and the closer is nil.
func enableStats() (io.Closer, error) {
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err == nil {
		return stats, nil
	}
	if b, rerr := os.ReadFile(statsSysctl); rerr == nil && strings.TrimSpace(string(b)) == "1" {
		return nil, nil
	}
	return nil, publicError(fmt.Errorf("enable BPF run time statistics (it needs CAP_SYS_ADMIN, or sysctl kernel.bpf_stats_enabled=1): %w", err))
}

// StatsAvailable reports whether Options.Stats can count each probe's
// runs here: nil when it can, else why not.
func StatsAvailable() error {
	c, err := enableStats()
	if c != nil {
		c.Close()
	}
	return err
}
