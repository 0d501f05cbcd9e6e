// Command benchrun owns the measurements bench/run.sh and bench/attach.sh
// take of one tracer run: it starts a command, waits for it, and reports its
// wall time, its peak resident set size and, optionally, the run count and
// in-kernel run time of the BPF programs the command loaded, and when a line
// first appeared on the command's stderr or stdout.
//
// Usage:
//
//	benchrun [-o FILE] [-progs TYPE,...] [-match REGEXP] [-stop REGEXP] [-stdout] -- CMD [ARG...]
//
// The command inherits stdin, stdout and stderr. benchrun prints one line of
// key=value pairs to FILE (default stderr):
//
//	wall_ns=N maxrss_kb=N exit=N end_mono_ns=N drained_ns=N [match_ns=N] [progs=N run_cnt=N run_time_ns=N]
//
// end_mono_ns is CLOCK_MONOTONIC when the command had ended, the clock BPF
// programs read as nsecs, so a time the command's program printed can be
// subtracted from it. drained_ns is how long after that the processes the
// command left behind took to exit (benchrun is their subreaper and waits
// for them, so that the next run starts on a kernel done with this one):
// ebtrace leaves one holding the links the kernel is still detaching.
//
// With -match or -stop, the command's stderr (its stdout with -stdout)
// passes through benchrun, line by line, on its way to benchrun's own.
// match_ns is the time from spawning the command to reading the first line
// that matches -match's regular expression (absent when none did), and the
// command's environment gets EBTRACE_SPAWN_NS, CLOCK_MONOTONIC just before
// the spawn, from which ebtrace's EBTRACE_TIMING measures its start-up. At
// the first line matching -stop, benchrun sends the command SIGINT. A line
// is matched without its newline.
//
// With -progs, benchrun turns on BPF run-time statistics, polls for programs
// of those types created after it started, and holds a reference to each.
// Types are the library's program type names in lower case, such as
// tracepoint, rawtracepoint, tracing, kprobe or perfevent. The reference keeps a program's counters
// readable after the command exits, so the totals cover the whole run. It
// needs root. benchrun exits with the command's exit status.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// pollInterval is how often benchrun looks for newly loaded programs.
const pollInterval = 5 * time.Millisecond

func main() {
	out := flag.String("o", "", "write the result line to `FILE` instead of stderr")
	progTypes := flag.String("progs", "", "report BPF programs of these comma-separated `TYPES` loaded by the command")
	var watch lineWatch
	flag.Func("match", "report when a line matching `REGEXP` first appears on the command's stderr", func(v string) (err error) {
		watch.match, err = regexp.Compile(v)
		return err
	})
	flag.Func("stop", "send the command SIGINT when a line matching `REGEXP` first appears on its stderr", func(v string) (err error) {
		watch.stop, err = regexp.Compile(v)
		return err
	})
	flag.BoolVar(&watch.stdout, "stdout", false, "watch the command's stdout for -match and -stop instead of its stderr")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchrun [-o FILE] [-progs TYPE,...] [-match REGEXP] [-stop REGEXP] [-stdout] -- CMD [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	code, err := run(flag.Args(), *progTypes, *out, &watch)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchrun: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(argv []string, progTypes, out string, watch *lineWatch) (int, error) {
	var tracker *progTracker
	if progTypes != "" {
		t, err := newProgTracker(progTypes)
		if err != nil {
			return 1, err
		}
		defer t.Close()
		tracker = t
	}

	// Processes the command leaves behind (ebtrace's holder of the links
	// the kernel is still detaching) become benchrun's, which waits for
	// them after timing the command, so that the next run starts on a
	// kernel done with this one.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 1, fmt.Errorf("become a subreaper: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	var pipe, pipeWriter, copyTo *os.File
	if watch.on() {
		r, w, err := os.Pipe()
		if err != nil {
			return 1, err
		}
		pipe, pipeWriter = r, w
		if watch.stdout {
			cmd.Stdout, copyTo = w, os.Stdout
		} else {
			cmd.Stderr, copyTo = w, os.Stderr
		}
	}
	start := time.Now()
	if pipe != nil {
		cmd.Env = append(os.Environ(), "EBTRACE_SPAWN_NS="+strconv.FormatInt(monotonicNow(), 10))
	}
	err := cmd.Start()
	if pipe != nil {
		// Only the command and its children hold the write end now, so
		// the copy ends when they have all closed it.
		pipeWriter.Close()
	}
	if err != nil {
		return 127, err
	}
	copied := make(chan error, 1)
	if pipe != nil {
		go func() { copied <- watch.copy(pipe, copyTo, start, cmd.Process) }()
	} else {
		copied <- nil
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var waitErr error
	if tracker == nil {
		waitErr = <-done
	} else {
		tick := time.NewTicker(pollInterval)
	poll:
		for {
			tracker.scan()
			select {
			case waitErr = <-done:
				tick.Stop()
				break poll
			case <-tick.C:
			}
		}
	}
	wall := time.Since(start)
	end := monotonicNow()
	signal.Stop(sigs)
	if err := <-copied; err != nil {
		return 1, fmt.Errorf("copying the command's output: %w", err)
	}
	drained := drain()

	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(waitErr, &exitErr):
		code = exitErr.ExitCode()
		if code < 0 {
			code = 128 + int(exitErr.Sys().(syscall.WaitStatus).Signal())
		}
	case waitErr != nil:
		return 1, waitErr
	}

	fields := []string{
		fmt.Sprintf("wall_ns=%d", wall.Nanoseconds()),
		fmt.Sprintf("maxrss_kb=%d", cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss),
		fmt.Sprintf("exit=%d", code),
		fmt.Sprintf("end_mono_ns=%d", end),
		fmt.Sprintf("drained_ns=%d", drained.Nanoseconds()),
	}
	if watch.matched > 0 {
		fields = append(fields, fmt.Sprintf("match_ns=%d", watch.matched.Nanoseconds()))
	}
	if tracker != nil {
		n, cnt, ns, err := tracker.totals()
		if err != nil {
			return code, err
		}
		fields = append(fields, fmt.Sprintf("progs=%d", n), fmt.Sprintf("run_cnt=%d", cnt), fmt.Sprintf("run_time_ns=%d", ns))
	}
	line := strings.Join(fields, " ") + "\n"
	if out == "" {
		_, err := io.WriteString(os.Stderr, line)
		return code, err
	}
	return code, os.WriteFile(out, []byte(line), 0o644)
}

// drain waits for every process the command left behind and returns how
// long that took.
func drain() time.Duration {
	start := time.Now()
	for {
		var status unix.WaitStatus
		if _, err := unix.Wait4(-1, &status, 0, nil); err == unix.ECHILD {
			return time.Since(start)
		} else if err != nil && err != unix.EINTR {
			return time.Since(start)
		}
	}
}

// monotonicNow reads CLOCK_MONOTONIC in nanoseconds; it cannot fail on
// Linux for this clock.
func monotonicNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// lineWatch looks at the lines of the command's stderr, or stdout, as
// they pass.
type lineWatch struct {
	match, stop *regexp.Regexp
	stdout      bool          // watch stdout rather than stderr
	matched     time.Duration // from the spawn to the first match; 0 before
	stopped     bool
}

func (w *lineWatch) on() bool { return w.match != nil || w.stop != nil }

// copy copies the lines of r to out until r ends, timing the first match
// from start and interrupting p at the first stop line.
func (w *lineWatch) copy(r io.Reader, out io.Writer, start time.Time, p *os.Process) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			now := time.Since(start)
			text := bytes.TrimSuffix(line, []byte("\n"))
			if w.match != nil && w.matched == 0 && w.match.Match(text) {
				w.matched = now
			}
			if w.stop != nil && !w.stopped && w.stop.Match(text) {
				w.stopped = true
				p.Signal(os.Interrupt)
			}
			if _, err := out.Write(line); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// progTracker finds and holds the programs of the wanted types loaded after
// it was created.
type progTracker struct {
	want  map[string]bool
	stats io.Closer
	seen  map[ebpf.ProgramID]bool
	held  []*ebpf.Program
}

func newProgTracker(types string) (*progTracker, error) {
	want := map[string]bool{}
	for _, typ := range strings.Split(types, ",") {
		want[strings.ToLower(strings.TrimSpace(typ))] = true
	}
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enabling BPF run-time statistics: %w", err)
	}
	t := &progTracker{want: want, stats: stats, seen: map[ebpf.ProgramID]bool{}}
	for id := range programIDs {
		t.seen[id] = true
	}
	return t, nil
}

// programIDs yields the IDs of the programs loaded now.
func programIDs(yield func(ebpf.ProgramID) bool) {
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil || !yield(next) {
			return
		}
		id = next
	}
}

// scan takes a reference to each new program of a wanted type. A program
// that disappears between listing and opening is skipped.
func (t *progTracker) scan() {
	for id := range programIDs {
		if t.seen[id] {
			continue
		}
		t.seen[id] = true
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if !t.want[strings.ToLower(prog.Type().String())] {
			prog.Close()
			continue
		}
		t.held = append(t.held, prog)
	}
}

// totals sums the statistics of the held programs.
func (t *progTracker) totals() (n int, runCnt uint64, runTimeNs int64, err error) {
	for _, p := range t.held {
		s, err := p.Stats()
		if err != nil {
			return 0, 0, 0, err
		}
		runCnt += s.RunCount
		runTimeNs += s.Runtime.Nanoseconds()
	}
	return len(t.held), runCnt, runTimeNs, nil
}

// Close drops the program references and turns statistics back off.
func (t *progTracker) Close() error {
	for _, p := range t.held {
		p.Close()
	}
	return t.stats.Close()
}
