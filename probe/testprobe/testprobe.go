// Package testprobe provides test:NAME probes: under --test, ebtrace runs
// each once, in script order, and reports whether it passed (it returned
// 0, called no errorf() and no exit() with a non-zero code). Otherwise
// they are compiled and loaded but never run.
package testprobe

import (
	"ebtrace/probe"
	"ebtrace/probe/special"
)

// Provider is the test probe type.
type Provider struct{}

// Names implements probe.Provider.
func (Provider) Names() []string { return []string{"test"} }

// Expand implements probe.Provider.
func (Provider) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	return special.Named("test", spec, probe.Test, "--test")
}

// Probes implements probe.Provider: test probes live only in scripts.
func (Provider) Probes(string, *probe.Env) ([]probe.Listing, error) { return nil, nil }
