// Package special provides the probes ebtrace runs itself rather than
// attaches, in its own context: BEGIN before any event probe is attached,
// END after every one is detached, and test:NAME and bench:NAME in place of
// tracing under --test (each once, reporting whether it passed: it returned
// 0, called no errorf() and no exit() with a non-zero code) and --bench
// (each many times, reporting the average time one run takes in the
// kernel); otherwise test and bench probes are compiled and loaded but
// never run. They are raw_tracepoint programs executed with
// BPF_PROG_TEST_RUN, so no event in the kernel is needed to trigger them.
// Instance is that kind of probe, which the self probe type shares.
package special

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/probe"
)

// Provider is one of the special probe types.
type Provider struct {
	kind  probe.Kind
	names []string
	// mode is the flag that runs the probes of a type whose probes are
	// named (test:NAME); "" for BEGIN and END, which take no arguments.
	mode string
}

// The special probe types.
var (
	Begin = Provider{kind: probe.Begin, names: []string{"BEGIN", "begin"}}
	End   = Provider{kind: probe.End, names: []string{"END", "end"}}
	Test  = Provider{kind: probe.Test, names: []string{"test"}, mode: "--test"}
	Bench = Provider{kind: probe.Bench, names: []string{"bench"}, mode: "--bench"}
)

// Names implements probe.Provider.
func (p Provider) Names() []string { return p.names }

// Expand implements probe.Provider. A named probe's name is checked: it is
// what the results are reported under.
func (p Provider) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	typ := p.names[0]
	if p.mode == "" {
		if spec != "" {
			return nil, &probe.Error{Msg: fmt.Sprintf("%s takes no arguments", typ)}
		}
		return []probe.Instance{Instance{ProbeName: typ, RunKind: p.kind}}, nil
	}
	if spec == "" || strings.ContainsFunc(spec, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("%s:%s: a %s probe takes one name of letters, digits and underscores", typ, spec, typ),
			Hints: []string{fmt.Sprintf("for example %s:my_%s; %s reports it under that name", typ, typ, p.mode)},
		}
	}
	return []probe.Instance{Instance{ProbeName: typ + ":" + spec, RunKind: p.kind}}, nil
}

// Probes implements probe.Provider: these probes live only in scripts.
func (p Provider) Probes(string, *probe.Env) ([]probe.Listing, error) { return nil, nil }

// Instance is a probe ebtrace runs itself, with BPF_PROG_TEST_RUN, rather
// than attaches: when depends on its kind.
type Instance struct {
	ProbeName string
	RunKind   probe.Kind
}

func (i Instance) Name() string           { return i.ProbeName }
func (i Instance) Kind() probe.Kind       { return i.RunKind }
func (i Instance) Program() probe.Program { return probe.Program{Type: ebpf.RawTracepoint} }
func (i Instance) Available() error       { return nil }

func (i Instance) Builtin(string) (probe.Arg, bool) { return probe.Arg{}, false }

func (i Instance) Arg(string) (probe.Arg, error) {
	return probe.Arg{}, &probe.Error{Msg: i.typeName() + " probes have no args"}
}

func (i Instance) Attach(*ebpf.Program) (io.Closer, error) {
	return nil, errors.New(i.typeName() + " is run, not attached")
}

// typeName is the probe type's part of the name: BEGIN, test, self.
func (i Instance) typeName() string {
	name, _, _ := strings.Cut(i.ProbeName, ":")
	return name
}
