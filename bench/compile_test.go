package bench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// compileProbes is the size of the script BenchmarkCompile1000 compiles:
// issue 17's bar is 1,000 probes compiled and verified in under 1 s.
const compileProbes = 1000

// BenchmarkCompile1000 compiles a generated script of 1,000 tracepoint
// probes, the first 1,000 tracepoints of this kernel, each with its own
// count() map, and passes its programs through the kernel's verifier,
// attaching nothing: what `ebtrace --dry-run` does for it.
func BenchmarkCompile1000(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireTracefs(b)
	events, _, err := kernel.Live()
	if err != nil {
		b.Fatal(err)
	}
	tps, err := events.Tracepoints()
	if err != nil {
		b.Fatal(err)
	}
	if len(tps) < compileProbes {
		b.Skipf("this kernel has %d tracepoints, fewer than %d", len(tps), compileProbes)
	}
	var src strings.Builder
	for i, tp := range tps[:compileProbes] {
		fmt.Fprintf(&src, "tracepoint:%s:%s { @c%d = count(); }\n", tp.Category, tp.Name, i)
	}
	for b.Loop() {
		script, err := ebtrace.Compile("generated.bt", src.String(), ebtrace.Options{})
		if err != nil {
			b.Fatal(err)
		}
		v, err := script.Verify()
		if err != nil {
			b.Fatal(err)
		}
		// Syscalls tracepoints among them add their carrier's dispatcher.
		if v.Verified < compileProbes {
			b.Fatalf("%d programs verified, want at least %d", v.Verified, compileProbes)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/script")
}

// BenchmarkCompileSyscalls compiles tracepoint:syscalls:sys_enter_* with
// @[probe] = count() and verifies its programs, as --dry-run does: issue
// 17's syscall wildcard, whose start to exit this is most of.
func BenchmarkCompileSyscalls(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireTracefs(b)
	for b.Loop() {
		script, err := ebtrace.Compile("wildcard.bt", "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }", ebtrace.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := script.Verify(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/script")
}
