// Package all holds the explicit list of probe types ebtrace knows: adding a
// provider is one line here.
package all

import (
	"ebtrace/probe"
	"ebtrace/probe/interval"
	"ebtrace/probe/special"
	"ebtrace/probe/tracepoint"
)

// Registry returns every provider under its names and aliases.
func Registry() *probe.Registry {
	return probe.NewRegistry(
		special.Begin,
		special.End,
		tracepoint.Provider{},
		interval.Provider{},
	)
}
