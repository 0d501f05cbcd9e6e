// Package special provides BEGIN and END, which run once in ebtrace's own
// context: BEGIN before any event probe is attached, END after every one is
// detached. They are raw_tracepoint programs executed with BPF_PROG_TEST_RUN,
// so no event in the kernel is needed to trigger them.
package special

import (
	"errors"
	"fmt"
	"io"

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
	return []probe.Instance{instance{p}}, nil
}

// Probes implements probe.Provider.
func (p Provider) Probes(string, *probe.Env) ([]probe.Listing, error) { return nil, nil }

type instance struct{ p Provider }

func (i instance) Name() string           { return i.p.names[0] }
func (i instance) Kind() probe.Kind       { return i.p.kind }
func (i instance) Program() probe.Program { return probe.Program{Type: ebpf.RawTracepoint} }
func (i instance) Available() error       { return nil }

func (i instance) Builtin(string) (probe.Arg, bool) { return probe.Arg{}, false }

func (i instance) Arg(string) (probe.Arg, error) {
	return probe.Arg{}, &probe.Error{Msg: i.p.names[0] + " probes have no args"}
}

func (i instance) Attach(*ebpf.Program) (io.Closer, error) {
	return nil, errors.New(i.p.names[0] + " is run, not attached")
}
