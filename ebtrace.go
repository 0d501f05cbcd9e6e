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
// This package is the engine's whole public surface: the compiler's and
// loader's own types stay inside the module.
package ebtrace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/kernel"
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
	// line's -c): it is started before loading, so that cpid is its pid,
	// but held, stopped by ptrace(2) right after its exec, until every
	// probe is attached; the session ends when it exits, and a command
	// still running then is terminated. It shares this process's
	// standard input, output and error.
	Command []string
	// Log receives what ebtrace says to a person rather than to the
	// program: that it mounted tracefs, which was missing. Nil discards it.
	Log io.Writer
	// EventBuffer is the capacity of the channel Session.Events returns;
	// 0 means DefaultEventBuffer.
	EventBuffer int
}

// DefaultEventBuffer is the event channel's capacity when
// Options.EventBuffer is 0.
const DefaultEventBuffer = 1024

// Script is a compiled script, ready to start; it holds no kernel objects.
type Script struct {
	res      *compile.Result
	opts     Options
	warnings []Diagnostic
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
	if len(opts.Command) > 0 {
		if _, err := exec.LookPath(opts.Command[0]); err != nil {
			return nil, fmt.Errorf("command: %w", err)
		}
	}
	getenv, unread := configLookup(opts.Config)
	planOpts := plan.DefaultOptions
	planOpts.HelperErrors = opts.HelperErrors
	env := &probe.Env{PID: opts.PID, Unsafe: opts.Unsafe, Events: liveEvents(opts.Log)}
	res, err := compile.Compile(file, all.Registry(), env, compile.Options{
		Plan:           planOpts,
		Check:          check.Options{Params: opts.Params, Getenv: getenv},
		TaskCommOffset: kernel.TaskCommOffset,
		KernelFuncID:   kernel.KernelFuncID,
		PIDNamespace:   kernel.PIDNamespace,
	})
	if err != nil {
		return nil, publicError(err)
	}
	if err := unread(); err != nil {
		return nil, err
	}
	s := &Script{res: res, opts: opts}
	for _, d := range append(res.Info.Skipped, res.Info.Warnings...) {
		s.warnings = append(s.warnings, diagnostic(res.File, d))
	}
	return s, nil
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

// configLookup returns the environment lookup that feeds config to the
// checker, and a function that reports a setting it never asked for:
// a misspelt or unknown name.
func configLookup(config map[string]string) (getenv func(string) string, unread func() error) {
	byEnv := map[string]string{}
	for name, v := range config {
		byEnv[configEnv(name)] = v
	}
	asked := map[string]bool{}
	getenv = func(env string) string {
		asked[env] = true
		return byEnv[env]
	}
	unread = func() error {
		var unknown []string
		for name := range config {
			if !asked[configEnv(name)] {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) == 0 {
			return nil
		}
		var known []string
		for env := range asked {
			known = append(known, strings.ToLower(strings.TrimPrefix(env, "BPFTRACE_")))
		}
		slices.Sort(unknown)
		slices.Sort(known)
		msg := "config: unknown setting " + strings.Join(unknown, ", ")
		if close := source.Closest(unknown[0], known, 1); len(close) > 0 {
			return errors.New(msg + " (did you mean " + close[0] + "?)")
		}
		return errors.New(msg + "; settings: " + strings.Join(known, ", "))
	}
	return getenv, unread
}

// configEnv is the environment variable of config setting name.
func configEnv(name string) string {
	return "BPFTRACE_" + strings.ToUpper(strings.TrimPrefix(strings.ToLower(name), "bpftrace_"))
}
