package ebtrace

import (
	"fmt"
	"io"

	"github.com/ebtrace/ebtrace/internal/cdecl"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
)

// ListOptions are how List looks for probes.
type ListOptions struct {
	// Verbose adds each probe's arguments, or each type's members.
	Verbose bool
	// PID lists the user-space probes of this process (its binary and
	// libraries) where the pattern asks for them.
	PID int
	// Log hears that tracefs was mounted, as Options.Log does.
	Log io.Writer
}

// List writes the probes whose names match pattern to w, one per line, as
// the command line's -l does: a probe pattern such as
// "tracepoint:syscalls:sys_enter_*" ("" or "*" is every probe), or a type
// pattern such as "struct task_struct" for the kernel's types.
func List(w io.Writer, pattern string, opts ListOptions) error {
	env := &probe.Env{PID: opts.PID, Events: liveEvents(opts.Log)}
	if cdecl.IsTypePattern(pattern) {
		spec, err := env.Types()
		if err != nil {
			return publicError(fmt.Errorf("-l %s needs the kernel's BTF: %w", pattern, err))
		}
		return cdecl.ListTypes(w, spec, pattern, opts.Verbose)
	}
	return publicError(all.Registry().List(env, pattern, opts.Verbose, w))
}

// WriteInfo writes what the running kernel offers ebtrace, probed live:
// its release, the BPF program types, map types and helpers ebtrace uses,
// and whether each kind of probe can attach.
func WriteInfo(w io.Writer) error { return publicError(kernel.WriteInfo(w)) }
