package bench

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/ebtrace/ebtrace/internal/glob"
	"github.com/ebtrace/ebtrace/internal/kernel"
)

// BenchmarkWildcardKallsyms matches a star-heavy pattern, as `ebtrace -l`
// and a kprobe wildcard do, against every name in this machine's
// /proc/kallsyms; one op is the whole pass.
func BenchmarkWildcardKallsyms(b *testing.B) {
	data, err := os.ReadFile("/proc/kallsyms")
	if errors.Is(err, os.ErrNotExist) {
		b.Skipf("no /proc/kallsyms (CONFIG_KALLSYMS is off): %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	syms, err := kernel.ParseKallsyms(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	const pattern = "*_*_*_*_*_*_*x"
	matched := 0
	for b.Loop() {
		matched = 0
		for _, s := range syms {
			if glob.Match(pattern, s.Name) {
				matched++
			}
		}
	}
	b.ReportMetric(float64(len(syms)), "names/op")
	b.ReportMetric(float64(matched), "matches/op")
}
