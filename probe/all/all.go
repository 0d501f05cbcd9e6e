// Package all holds the explicit list of probe types ebtrace knows: adding a
// provider is one line here.
package all

import (
	"ebtrace/probe"
	"ebtrace/probe/fentry"
	"ebtrace/probe/interval"
	"ebtrace/probe/kprobe"
	"ebtrace/probe/profile"
	"ebtrace/probe/rawtracepoint"
	"ebtrace/probe/self"
	"ebtrace/probe/special"
	"ebtrace/probe/tracepoint"
	"ebtrace/probe/uprobe"
	"ebtrace/probe/usdt"
)

// Registry returns every provider under its names and aliases.
func Registry() *probe.Registry {
	return probe.NewRegistry(
		special.Begin,
		special.End,
		special.Test,
		special.Bench,
		self.Provider{},
		tracepoint.Provider{},
		interval.Provider{},
		rawtracepoint.Provider{},
		profile.Profile{},
		profile.Software{},
		profile.Hardware{},
		kprobe.Kprobe,
		kprobe.Kretprobe,
		fentry.Entry,
		fentry.Exit,
		uprobe.Uprobe,
		uprobe.Uretprobe,
		usdt.Provider{},
	)
}
