// Package self provides self:signal:SIGNAL probes, which run in ebtrace's
// own context each time the ebtrace process receives the signal while
// tracing (kill -USR1 PID).
package self

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"

	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/special"
)

// Provider is the self probe type.
type Provider struct{}

// Names implements probe.Provider.
func (Provider) Names() []string { return []string{"self"} }

// signals are the signals a self probe may run on: those whose default
// action ebtrace may take over without changing how it is stopped.
var signals = map[string]syscall.Signal{"SIGUSR1": syscall.SIGUSR1}

// Expand implements probe.Provider.
func (Provider) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	event, name, _ := strings.Cut(spec, ":")
	names := slices.Sorted(maps.Keys(signals))
	if event != "signal" {
		return nil, &probe.Error{
			Msg:   fmt.Sprintf("self:%s: the self probe type has one event, signal", spec),
			Hints: []string{"for example self:signal:SIGUSR1"},
		}
	}
	sig, ok := signals[name]
	if !ok {
		e := &probe.Error{Msg: fmt.Sprintf("self:signal:%s: a self probe runs on %s", name, strings.Join(names, ", "))}
		e.Suggest(name, names)
		return nil, e
	}
	return []probe.Instance{instance{special.Instance{ProbeName: "self:signal:" + name, RunKind: probe.Signal}, sig}}, nil
}

// Probes implements probe.Provider.
func (Provider) Probes(string, *probe.Env) ([]probe.Listing, error) {
	var list []probe.Listing
	for _, n := range slices.Sorted(maps.Keys(signals)) {
		list = append(list, probe.Listing{Name: "self:signal:" + n})
	}
	return list, nil
}

type instance struct {
	special.Instance
	sig syscall.Signal
}

// Signal implements probe.Signaled.
func (i instance) Signal() syscall.Signal { return i.sig }
