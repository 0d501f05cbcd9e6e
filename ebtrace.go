// Package ebtrace embeds the ebtrace tracer in a Go program: it compiles
// bpftrace-language scripts to eBPF, runs them on the live kernel under a
// context.Context, delivers their output as typed Go values and reads their
// maps at any moment.
//
// A program compiles a script once (Compile, CompileFile), which loads
// nothing, and starts it (Script.Start) as often as it likes; each start is
// a Session with its own kernel objects, so sessions running at the same
// time share nothing. Loading and attaching need the privileges BPF needs:
// root, or CAP_BPF with CAP_PERFMON.
//
// Beside scripts, the package runs what the command line's subcommands
// do: OpenRecording records trace events through in-kernel filters
// (ebtrace record), OpenObject runs BPF objects compiled from C (ebtrace
// run), and NewShell is a live session that probes are added to and
// detached from one at a time (ebtrace shell). List and WriteInfo answer
// -l and --info.
//
// This package is the engine's whole public surface, and the command line
// uses nothing else: the compiler's and loader's own types stay inside the
// module.
package ebtrace

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
)

// Options are a script's inputs besides its text, and how its session runs.
type Options struct {
	// Params are the positional parameters: $1 is Params[0]. Named
	// options that getopt() reads are given here too, as "--name=value".
	Params []string
	// Config sets config settings by name, as the script's config block
	// does ("max_strlen" or "BPFTRACE_MAX_STRLEN"), and overrides the
	// block as the environment does on the command line. The process's
	// environment is not read.
	Config map[string]string
	// Getenv, when set, looks up the config settings Config leaves out
	// by their environment names ("BPFTRACE_MAX_STRLEN"), as the
	// command line does with os.Getenv.
	Getenv func(string) string
	// Compat keeps the behaviour of an older bpftrace where the language
	// or the output layout changed since: "0.17" (Debian's bpftrace)
	// has no bool type, and prints maps and histograms as it did. ""
	// is the current behaviour.
	Compat string
	// Unsafe allows the functions that change the system: system(),
	// signal() and override() (the command line's --unsafe).
	Unsafe bool
	// HelperErrors reports failed helper calls as HelperError events (the
	// command line's -k).
	HelperErrors bool
	// PID limits user-space probes to this process and ends the session
	// when it exits (the command line's -p).
	PID int
	// Command is a command to run, as its argument vector (the command
	// line's -c). Its pid (cpid) is known before the programs load, and
	// it runs only once every probe is attached, so that none of its
	// events are missed, its execve included: the session starts a copy
	// of this program (os.Executable), which package ebtrace's init holds
	// until then and turns into the command with execve(2). The session
	// ends when the command exits, and a command still running then is
	// terminated. It shares this process's standard input, output and
	// error.
	Command []string
	// Log receives what ebtrace says to a person rather than to the
	// program: that it mounted tracefs, which was missing, and with
	// Output the warnings and the "Attached N probes" line. Nil discards
	// it.
	Log io.Writer
	// Output, when set, receives the session's output as the command
	// line prints it, in Format, instead of Events: Events then
	// delivers only the Exit event.
	Output io.Writer
	// Format is Output's format.
	Format Format
	// Quiet leaves out the announcement of the attached probes: in text
	// on Log, in JSON the attached_probes record on Output.
	Quiet bool
	// Mode runs the script's test or bench probes instead of tracing;
	// it needs Output, where their results go.
	Mode Mode
	// Engine is what runs the programs: the kernel, or ebtrace's
	// user-space engine reading trace events through tracefs. ""
	// chooses the kernel unless bpf(2) is refused (a seccomp profile, a
	// kernel without CONFIG_BPF_SYSCALL), and says so on Log.
	Engine Engine
	// Stats turns the kernel's BPF statistics on while the session runs,
	// so that Session.Probes counts each probe's runs and run time. The
	// kernel allows that only with CAP_SYS_ADMIN, unless the sysctl
	// kernel.bpf_stats_enabled is on already; StatsAvailable tells.
	Stats bool
	// EventBuffer is the capacity of the channel Session.Events returns;
	// 0 means DefaultEventBuffer.
	EventBuffer int
}

// Format is how Options.Output is written.
type Format string

// The output formats.
const (
	FormatText Format = "text" // bpftrace's text layout
	FormatJSON Format = "json" // one JSON object per line, as bpftrace's -f json
)

// Mode is what a session runs.
type Mode string

// The modes.
const (
	// ModeTrace attaches the event probes and traces until the session
	// ends.
	ModeTrace Mode = ""
	// ModeTest runs each test:NAME probe once, in place of the event
	// probes, and writes each one's result; a failed test makes the exit
	// code at least 1.
	ModeTest Mode = "test"
	// ModeBench runs each bench:NAME probe repeatedly, in place of the
	// event probes, and writes the time each run takes.
	ModeBench Mode = "bench"
)

// Engine is what runs a script's programs.
type Engine string

// The engines.
const (
	// EngineKernel loads the programs into the kernel, as BPF.
	EngineKernel Engine = "kernel"
	// EngineUser runs them in ebtrace's user-space eBPF engine on the
	// trace events of a private tracefs instance, with no bpf(2): only
	// tracepoint, BEGIN, END and interval probes, and each probe's
	// predicate, where it can be, as the kernel's own ftrace filter.
	EngineUser Engine = "user"
)

// DefaultEventBuffer is the event channel's capacity when
// Options.EventBuffer is 0.
const DefaultEventBuffer = 1024

// Script is a compiled script, ready to start; it holds no kernel objects.
type Script struct {
	res      *compile.Result
	env      *probe.Env
	copts    compile.Options
	traits   map[string]*mapTraits // by map name, without the @
	opts     Options
	warnings []Diagnostic
	timing   *timing // the marks EBTRACE_TIMING prints; nil without it
}

// Compile compiles the script src, named name in diagnostics. A problem in
// the script is a *CompileError; a problem of the environment (tracefs
// missing, an attach point this kernel lacks) is another error.
func Compile(name, src string, opts Options) (*Script, error) {
	return compileFile(source.NewFile(name, src), opts)
}

// CompileFile compiles the script in the file at path, as Compile does.
func CompileFile(path string, opts Options) (*Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return compileFile(source.NewFile(path, string(b)), opts)
}

func compileFile(file *source.File, opts Options) (*Script, error) {
	tm, err := newTiming(opts.Getenv)
	if err != nil {
		return nil, err
	}
	if len(opts.Command) > 0 {
		if _, err := exec.LookPath(opts.Command[0]); err != nil {
			return nil, fmt.Errorf("command: %w", err)
		}
	}
	copts, err := opts.compileOptions()
	if err != nil {
		return nil, err
	}
	copts.TaskCommOffset, copts.KernelFuncID, copts.PIDNamespace = kernel.TaskCommOffset, kernel.KernelFuncID, kernel.PIDNamespace
	copts.CountSlots = load.CountSlots
	env := &probe.Env{PID: opts.PID, Unsafe: opts.Unsafe, Events: liveEvents(opts.Log)}
	res, err := compile.Compile(file, all.Registry(), env, copts)
	if err != nil {
		return nil, publicError(err)
	}
	if err := modeProbes(res, opts.Mode); err != nil {
		return nil, err
	}
	if err := unknownOptions(opts.Params, funcs.Options(res.Info.Program)); err != nil {
		return nil, err
	}
	s := &Script{res: res, opts: opts, traits: traitsOf(res.AST), env: env, copts: copts, timing: tm}
	for _, d := range append(res.Info.Skipped, res.Info.Warnings...) {
		s.warnings = append(s.warnings, diagnostic(res.File, d))
	}
	if tm != nil {
		tm.compileEnd = time.Now()
	}
	return s, nil
}

// userResult compiles the script again for the user-space engine: with
// none of the kernel's own structures (comm from the helper rather than
// from the task's), so that every program runs without the kernel.
func (s *Script) userResult() (*compile.Result, error) {
	copts := s.copts
	copts.TaskCommOffset, copts.KernelFuncID, copts.PIDNamespace, copts.CountSlots = nil, nil, nil, nil
	copts.NoCarriers = true
	return compile.Compile(s.res.File, all.Registry(), s.env, copts)
}

// snapshot converts a map as the tracer reads it, with what the script
// says about it.
func (s *Script) snapshot(m *output.Map) MapSnapshot {
	snap := snapshot(m)
	if t := s.traits[strings.TrimPrefix(m.Name, "@")]; t != nil {
		snap.KeyNames, snap.Counter, snap.Scratch = t.keyNames, t.counter, t.scratch
	}
	return snap
}

// liveEvents gives providers lazy access to tracefs, mounting it when it
// is missing and saying so on log.
func liveEvents(log io.Writer) func() (*kernel.Events, error) {
	return sync.OnceValues(func() (*kernel.Events, error) {
		events, mounted, err := kernel.Live()
		if mounted && log != nil {
			fmt.Fprintln(log, "ebtrace: tracefs was not mounted; mounted it at /sys/kernel/tracing")
		}
		return events, err
	})
}

// Warnings returns what the compiler warned about: probes skipped because
// they do not exist here, and problems the script runs despite.
func (s *Script) Warnings() []Diagnostic { return slices.Clone(s.warnings) }

// compileOptions checks the options and turns them into the compiler's,
// without the running kernel's hooks.
func (o *Options) compileOptions() (compile.Options, error) {
	if err := o.valid(); err != nil {
		return compile.Options{}, err
	}
	getenv, err := configLookup(o.Config, o.Getenv)
	if err != nil {
		return compile.Options{}, err
	}
	planOpts := plan.DefaultOptions
	planOpts.HelperErrors = o.HelperErrors
	// Count slots are on where the kernel has them unless
	// EBTRACE_COUNT_SLOTS=0 turns them off, for comparison.
	planOpts.CountSlots = getenv("EBTRACE_COUNT_SLOTS") != "0"
	return compile.Options{
		Plan:  planOpts,
		Check: check.Options{Params: o.Params, Getenv: getenv, NoBool: o.Compat == "0.17"},
		// Running syscalls tracepoints on raw_syscalls is on unless
		// EBTRACE_SYSCALL_DISPATCH=0 turns it off, for comparison.
		NoCarriers: getenv("EBTRACE_SYSCALL_DISPATCH") == "0",
	}, nil
}

// valid refuses options that do not go together.
func (o *Options) valid() error {
	switch {
	case o.Compat != "" && o.Compat != "0.17":
		return fmt.Errorf("compat %q: ebtrace keeps the behaviour of bpftrace 0.17 (\"0.17\") or of the current bpftrace (\"\")", o.Compat)
	case o.Format != FormatText && o.Format != FormatJSON && o.Format != "":
		return fmt.Errorf("format %q: the formats are %q and %q", o.Format, FormatText, FormatJSON)
	case o.Mode != ModeTrace && o.Mode != ModeTest && o.Mode != ModeBench:
		return fmt.Errorf("mode %q: the modes are %q and %q, or none to trace", o.Mode, ModeTest, ModeBench)
	case o.Engine != "" && o.Engine != EngineKernel && o.Engine != EngineUser:
		return fmt.Errorf("engine %q: the engines are %q and %q", o.Engine, EngineKernel, EngineUser)
	case o.Engine == EngineUser && o.Mode != ModeTrace:
		return fmt.Errorf("mode %s runs in the kernel only", o.Mode)
	case o.Mode != ModeTrace && o.Output == nil:
		return fmt.Errorf("mode %s writes its results to Options.Output, which is not set", o.Mode)
	}
	return nil
}

// modeKinds are the probes each Mode but ModeTrace runs.
var modeKinds = map[Mode]probe.Kind{ModeTest: probe.Test, ModeBench: probe.Bench}

// modeProbes refuses a test or bench mode for a script without such
// probes.
func modeProbes(res *compile.Result, mode Mode) error {
	kind, ok := modeKinds[mode]
	if !ok || slices.ContainsFunc(res.Programs, func(p *compile.Program) bool { return p.Instance.Instance.Kind() == kind }) {
		return nil
	}
	return fmt.Errorf("mode %s: the script has no %s probe (%s:NAME { ... })", mode, mode, mode)
}

// NamedOption is a named option the script reads with getopt(): given
// in Options.Params as "--NAME" or "--NAME=VALUE".
type NamedOption struct {
	Name    string
	Value   string // what the value stands for, such as "NUM"; "" for a flag
	Doc     string // what the option does, from the script
	Default string // the value when the option is not given
}

// NamedOptions lists the named options the script reads with getopt().
func (s *Script) NamedOptions() []NamedOption {
	var out []NamedOption
	for _, o := range funcs.Options(s.res.Info.Program) {
		out = append(out, NamedOption{Name: o.Name, Value: o.Value, Doc: o.Doc, Default: o.Default})
	}
	return out
}

// unknownOptions refuses a named option (--name or --name=value) that a
// script reading named options does not read: most likely a misspelling.
// A script without getopt() takes such words as positional parameters;
// --help is always allowed, for a front end that lists the options.
func unknownOptions(params []string, opts []funcs.Option) error {
	if len(opts) == 0 {
		return nil
	}
	var names []string
	for _, opt := range opts {
		names = append(names, opt.Name)
	}
	for _, p := range params {
		name, ok := strings.CutPrefix(p, "--")
		if !ok || name == "" || name == "help" {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if !slices.Contains(names, name) {
			msg := fmt.Sprintf("the script has no option --%s; it reads --%s", name, strings.Join(names, ", --"))
			if close := source.Closest(name, names, 2); len(close) > 0 {
				msg += fmt.Sprintf(" (did you mean --%s?)", close[0])
			}
			return errors.New(msg + "; -- --help lists them")
		}
	}
	return nil
}

// configLookup returns the environment lookup that feeds config to the
// checker, with config's settings by their environment variables, and
// refuses a setting that does not exist: a misspelt or unknown name.
// Settings not in config are looked up with fallback, when it is set.
func configLookup(config map[string]string, fallback func(string) string) (func(string) string, error) {
	byEnv := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(config)) {
		env, ok := check.ConfigEnv(name)
		if !ok {
			known := check.ConfigNames()
			msg := "config: unknown setting " + name
			if close := source.Closest(name, known, 2); len(close) > 0 {
				return nil, errors.New(msg + " (did you mean " + close[0] + "?)")
			}
			return nil, errors.New(msg + "; settings: " + strings.Join(known, ", "))
		}
		byEnv[env] = config[name]
	}
	return func(env string) string {
		if v, ok := byEnv[env]; ok || fallback == nil {
			return v
		}
		return fallback(env)
	}, nil
}
