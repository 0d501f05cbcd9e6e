// Package bench holds ebtrace's benchmarks: run.sh compares it with
// bpftrace end to end; the Go benchmarks here time the steps that run at
// start-up or exit, run with go test -run '^$' -bench . ./bench/.
package bench

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// BenchmarkParseKallsyms parses this machine's /proc/kallsyms, which
// printing any kernel stack or symbol needs first.
func BenchmarkParseKallsyms(b *testing.B) {
	data, err := os.ReadFile("/proc/kallsyms")
	if errors.Is(err, os.ErrNotExist) {
		b.Skipf("no /proc/kallsyms (CONFIG_KALLSYMS is off): %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := kernel.ParseKallsyms(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
