// Package special provides BEGIN and END, which run once in ebtrace's own
// context: BEGIN before any event probe is attached, END after every one is
// detached. They are raw_tracepoint programs executed with BPF_PROG_TEST_RUN,
// so no event in the kernel is needed to trigger them. Instance is that kind
// of probe, which the test, bench and self probe types share.
package special

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cilium/ebpf"

	"ebtrace/probe"
)

// Provider is BEGIN or END.
type Provider struct {
	kind  probe.Kind
	names []string
}

// Begin and End are the two special probe types.
var (
	Begin = Provider{kind: probe.Begin, names: []string{"BEGIN", "begin"}}
	End   = Provider{kind: probe.End, names: []string{"END", "end"}}
)

// Names implements probe.Provider.
func (p Provider) Names() []string { return p.names }

// Expand implements probe.Provider.
func (p Provider) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	if spec != "" {
		return nil, &probe.Error{Msg: fmt.Sprintf("%s takes no arguments", p.names[0])}
	}
	return []probe.Instance{Instance{ProbeName: p.names[0], RunKind: p.kind}}, nil
}

// Probes implements probe.Provider.
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

// Named expands the spec of a probe type whose probes are only named
// (test:NAME, bench:NAME) into one instance of kind, checking the name: it
// is what the results are reported under.
func Named(typ, spec string, kind probe.Kind, what string) ([]probe.Instance, error) {
	if spec == "" || strings.ContainsFunc(spec, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("%s:%s: a %s probe takes one name of letters, digits and underscores", typ, spec, typ),
			Hints: []string{fmt.Sprintf("for example %s:my_%s; %s reports it under that name", typ, typ, what)},
		}
	}
	return []probe.Instance{Instance{ProbeName: typ + ":" + spec, RunKind: kind}}, nil
}
