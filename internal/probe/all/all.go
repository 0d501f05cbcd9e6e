// Package all holds the explicit list of probe types ebtrace knows: adding a
// provider is one line here.
package all

import (
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/fentry"
	"github.com/ebtrace/ebtrace/internal/probe/interval"
	"github.com/ebtrace/ebtrace/internal/probe/kprobe"
	"github.com/ebtrace/ebtrace/internal/probe/profile"
	"github.com/ebtrace/ebtrace/internal/probe/rawtracepoint"
	"github.com/ebtrace/ebtrace/internal/probe/self"
	"github.com/ebtrace/ebtrace/internal/probe/special"
	"github.com/ebtrace/ebtrace/internal/probe/tracepoint"
	"github.com/ebtrace/ebtrace/internal/probe/uprobe"
	"github.com/ebtrace/ebtrace/internal/probe/usdt"
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
