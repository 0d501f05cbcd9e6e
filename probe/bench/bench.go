// Package bench provides bench:NAME probes: under --bench, ebtrace runs
// each many times, in script order, and reports the average time one run
// takes in the kernel. Otherwise they are compiled and loaded but never
// run.
package bench

import (
	"ebtrace/probe"
	"ebtrace/probe/special"
)

// Provider is the bench probe type.
type Provider struct{}

// Names implements probe.Provider.
func (Provider) Names() []string { return []string{"bench"} }

// Expand implements probe.Provider.
func (Provider) Expand(spec string, _ *probe.Env) ([]probe.Instance, error) {
	return special.Named("bench", spec, probe.Bench, "--bench")
}

// Probes implements probe.Provider: bench probes live only in scripts.
func (Provider) Probes(string, *probe.Env) ([]probe.Listing, error) { return nil, nil }
