package ebtrace

import (
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/shell"
)

// ShellOptions configure a Shell.
type ShellOptions struct {
	// Out receives the session's output as the command line prints it:
	// printf output, printed maps, statement results, and at Close what
	// END blocks print and the maps. Nil discards it.
	Out io.Writer
	// Log receives what ebtrace says to a person: the compiler's
	// warnings, the tracer's (debugf() output, a failed cat()), that it
	// mounted tracefs. Nil discards it.
	Log io.Writer
	// Getenv looks config settings up by their environment variable names
	// (BPFTRACE_MAX_STRLEN), as the command line reads its environment
	// (os.Getenv); the blocks' config blocks come second to it. Nil sets
	// none.
	Getenv func(string) string
}

// Shell is a live session that grows one input at a time, as `ebtrace
// shell` does: each probe block added is compiled with the blocks before
// it, so that they share their maps as one script's probes would, then
// loaded and attached at once while the others keep running; statements
// run at once as a BEGIN block would run them. Run time statistics of BPF
// programs stay enabled in the kernel while it is open, for Probes.
//
// Its methods may be called from any goroutine; they run one at a time.
type Shell struct {
	mu        sync.Mutex
	s         *shell.Session
	completer *shell.Completer
}

// ErrQuit is what Shell.Do returns for the .quit command: the caller
// closes the shell.
var ErrQuit = errors.New("quit")

// NewShell opens an empty shell. Loading needs the privileges BPF needs,
// as Script.Start does; the kernel's run time statistics need them at once.
func NewShell(opts ShellOptions) (*Shell, error) {
	out, log := opts.Out, opts.Log
	if out == nil {
		out = io.Discard
	}
	if log == nil {
		log = io.Discard
	}
	reg := all.Registry()
	env := &probe.Env{Events: liveEvents(log)}
	s, err := shell.New(shell.Options{
		Registry: reg, Env: env, Out: out, Warn: log,
		Config: load.Config{StartNs: kernel.MonotonicNow(), TAIOffset: kernel.TAIOffset()},
		Compile: compile.Options{
			Plan:           plan.DefaultOptions,
			Check:          check.Options{Getenv: opts.Getenv},
			TaskCommOffset: kernel.TaskCommOffset,
			KernelFuncID:   kernel.KernelFuncID,
			PIDNamespace:   kernel.PIDNamespace,
		},
	})
	if err != nil {
		return nil, publicError(err)
	}
	return &Shell{s: s, completer: &shell.Completer{Session: s, Registry: reg, Env: env}}, nil
}

// Do runs one whole input as the command line's shell does: probe blocks
// (added as Add adds them), statements, or a command such as .probes or
// .detach 2 (.help lists them; ':' may stand for the '.'). What it has to
// say, such as "attached #1: tracepoint:syscalls:sys_enter_read", goes to
// w; what the probes print goes to ShellOptions.Out. A problem in the
// input is a *CompileError, which leaves the shell as it was; .quit
// returns ErrQuit.
func (sh *Shell) Do(input string, w io.Writer) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	err := sh.s.Do(input, w)
	if errors.Is(err, shell.ErrQuit) {
		return ErrQuit
	}
	return publicError(err)
}

// Complete offers the words that may complete the word ending line, for
// a line editor's Tab: commands, probe types, tracepoint names, the args
// fields of the tracepoint being written, map names, builtins and
// functions. pending is the input's lines typed before line, when it
// spans several. word is the word it completed; words are whole words,
// sorted.
func (sh *Shell) Complete(pending, line string) (word string, words []string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.completer.Complete(pending, line)
}

// InputComplete reports whether input, typed into a Shell, is a whole
// input: its braces, brackets and parentheses are closed and no /* */
// comment is left open. A line editor reads more lines until it is.
func InputComplete(input string) bool { return shell.Complete(input) }

// Pause stops showing printf output, until Resume (or the .resume
// command); printed maps and statement results still show.
func (sh *Shell) Pause() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.s.Pause()
}

// Resume shows printf output again, and returns how many lines it did not
// show while paused.
func (sh *Shell) Resume() int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.s.Resume()
}

// Ended is closed when the session is over by itself, because a probe
// called exit() or reading its events failed: the caller closes the
// shell, and Close reports the failure.
func (sh *Shell) Ended() <-chan struct{} { return sh.s.Ended() }

// Close ends the shell as a script ends: its END blocks run, what they
// print and every map are written to ShellOptions.Out, and everything is
// detached and released.
func (sh *Shell) Close() error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return publicError(sh.s.Close())
}

// ProbeKind says when a probe block's programs run.
type ProbeKind string

// The kinds of probe block a Shell holds.
const (
	ProbeEvent ProbeKind = "event" // attached to kernel events
	ProbeBegin ProbeKind = "BEGIN" // ran once, when it was added
	ProbeEnd   ProbeKind = "END"   // runs at Close
)

// ShellProbe is one probe block of a Shell.
type ShellProbe struct {
	// ID is its number, as Detach takes it; numbers are never reused.
	ID int
	// Name is its attach points as typed, comma-separated.
	Name string
	Kind ProbeKind
	// Ran says a BEGIN block ran without failing.
	Ran bool
	// Programs counts an event block's attached programs: one per probe
	// its attach points matched.
	Programs int
	// Hits counts the runs of an event block's programs, the events that
	// its predicate dropped included, and Runtime adds up the time they
	// took, by the kernel's statistics.
	Hits    uint64
	Runtime time.Duration
}

// Add adds src, one or more probe blocks and the declarations they need
// (config, macros, structs), to the shell: it compiles them with the
// blocks before them, attaches the event probes, runs the BEGIN blocks at
// once and keeps the END blocks for Close. It returns the blocks added. A
// problem in src is a *CompileError and adds nothing; a BEGIN block that
// fails at run time is reported with the blocks, which stay added.
func (sh *Shell) Add(src string) ([]ShellProbe, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ps, err := sh.s.AddProbes(src)
	return shellProbes(ps), publicError(err)
}

// Detach detaches probe block id and removes it from the shell. Maps no
// other block uses are released.
func (sh *Shell) Detach(id int) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return publicError(sh.s.Detach(id))
}

// Probes lists the shell's probe blocks in the order they were added,
// with their statistics.
func (sh *Shell) Probes() ([]ShellProbe, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ps, err := sh.s.Probes()
	return shellProbes(ps), publicError(err)
}

// Map returns a snapshot of the map name ("@calls" or "calls"; "@" for the
// anonymous map), read now from the kernel while tracing goes on.
func (sh *Shell) Map(name string) (MapSnapshot, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m, err := sh.s.Read("@" + strings.TrimPrefix(name, "@"))
	if err != nil {
		return MapSnapshot{}, publicError(err)
	}
	return snapshot(m), nil
}

func shellProbes(ps []shell.Probe) []ShellProbe {
	var out []ShellProbe
	for _, p := range ps {
		kind := ProbeEvent
		switch p.Kind {
		case probe.Begin:
			kind = ProbeBegin
		case probe.End:
			kind = ProbeEnd
		}
		out = append(out, ShellProbe{ID: p.ID, Name: p.Name, Kind: kind, Ran: p.Ran, Programs: p.Programs, Hits: p.Hits, Runtime: p.Runtime})
	}
	return out
}
