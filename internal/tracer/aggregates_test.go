package tracer_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/testutil"
	"github.com/ebtrace/ebtrace/internal/tracer"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// runOnCPUs runs script's BEGIN once on each of the first CPUs, then
// finishes the session (END runs) and returns what it printed.
func runOnCPUs(t *testing.T, script string, cpus int) string {
	t.Helper()
	testutil.RequireHelper(t, ebpf.RawTracepoint, asm.FnMapLookupPercpuElem)
	if n, err := ebpf.PossibleCPU(); err != nil || n < cpus {
		t.Skipf("needs %d CPUs: %d, %v", cpus, n, err)
	}
	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), script, compile.Options{Plan: plan.DefaultOptions})
	out, warn := tracetest.Session(t, res, output.NewText, func(obj *load.Object, sess *tracer.Session) error {
		for _, p := range obj.Programs(probe.Begin) {
			for cpu := range cpus {
				if _, err := obj.Program(p).Run(&ebpf.RunOptions{CPU: uint32(cpu), Flags: unix.BPF_F_TEST_RUN_ON_CPU}); err != nil {
					return fmt.Errorf("run BEGIN on CPU %d: %w", cpu, err)
				}
			}
		}
		return sess.Loop(tracetest.Closed())
	})
	if warn != "" {
		t.Errorf("warnings: %s", warn)
	}
	return out
}

// TestPerCPUReads: a probe reading a count(), sum(), min(), max() or avg()
// map, directly or in a for over it, sees every CPU's share combined as
// the map prints at exit; min() and max() skip CPUs without a value.
func TestPerCPUReads(t *testing.T) {
	got := runOnCPUs(t, `BEGIN {
	@n = count();
	@s[1] = sum(cpu + 10);
	@mn = min(cpu == 0 ? 5 : -4);
	@mx = max(cpu == 0 ? 5 : -4);
	@a = avg(cpu == 0 ? -3 : -8);
	if (cpu == 1) { @one = min(9); @k[cpu] = count(); }
}
END {
	printf("%d %d %d %d %d %d %d %d\n", @n, @s[1], @mn, @mx, @a, @one, @s[2], @k[1] * 100 + @k[0]);
	if (@n == 2 && @s[1] > 20) { printf("compared\n"); }
	@s[7] = sum(-50);
	for ($kv : @s) { printf("sum %d %d\n", $kv.0, $kv.1); }
	for ($one : @k) { printf("count %d %d\n", $one.0, $one.1); }
}`, 2)
	head := "2 21 -4 5 -5 9 0 100\ncompared\n"
	// What the kernel read is what user space prints at exit.
	tail := "count 1 1\n\n\n@a: -5\n\n@k[1]: 1\n@mn: -4\n@mx: 5\n@n: 2\n@one: 9\n@s[7]: -50\n@s[1]: 21\n"
	// A hash map's elements come in the kernel's order.
	sums := []string{"sum 1 21\nsum 7 -50\n", "sum 7 -50\nsum 1 21\n"}
	if got != head+sums[0]+tail && got != head+sums[1]+tail {
		t.Errorf("got %q\nwant %q", got, head+sums[0]+tail)
	}
}

// histLabel is the one row of a histogram holding one value.
var histLabel = regexp.MustCompile(`(?m)^(\[\S+\]|\[\S+, \S+\)|\(\.\.\., 0\))\s+1 \|`)

// labelValue reads a bucket bound as labelled: 1536, 4K, 16384P.
func labelValue(t *testing.T, s string) uint64 {
	t.Helper()
	shift := 10 * strings.IndexByte("_KMGTPE", s[len(s)-1])
	if shift > 0 {
		s = s[:len(s)-1]
	} else {
		shift = 0
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("label %q: %v", s, err)
	}
	return n << shift
}

// TestHistBitsBuckets: every value lands, in the kernel, in the bucket of
// hist(x, BITS) whose printed label holds it, for each BITS.
func TestHistBitsBuckets(t *testing.T) {
	values := []int64{-7, 0, 1, 2, 3, 5, 7, 8, 9, 15, 31, 63, 64, 65, 66, 100, 1000, 1023, 1024, 1025, 1279, 1280, 4096, 5000,
		1<<20 + 3, 1<<32 - 1, 1 << 40, 1<<62 + 12345, 1<<63 - 1}
	var b strings.Builder
	b.WriteString("BEGIN {\n")
	for bits := 0; bits <= 5; bits++ {
		for i, v := range values {
			fmt.Fprintf(&b, "@h%d[%d] = hist(%d, %d);\n", bits, i, v, bits)
		}
	}
	b.WriteString("}\n")
	got, _ := run(t, b.String(), plan.DefaultOptions)
	hists := strings.Split(strings.TrimSpace(got), "\n\n")
	if len(hists) != 6*len(values) {
		t.Fatalf("%d histograms printed, want %d:\n%s", len(hists), 6*len(values), got)
	}
	for _, m := range hists {
		var bits, i int
		if _, err := fmt.Sscanf(m, "@h%d[%d]:", &bits, &i); err != nil {
			t.Fatalf("map %q: %v", m, err)
		}
		v := values[i]
		row := histLabel.FindStringSubmatch(m)
		if row == nil {
			t.Errorf("hist(%d, %d): no row of one value in\n%s", v, bits, m)
			continue
		}
		label := row[1]
		switch {
		case label == "(..., 0)":
			if v >= 0 {
				t.Errorf("hist(%d, %d) counted below 0", v, bits)
			}
		case !strings.Contains(label, ","):
			if n := labelValue(t, label[1:len(label)-1]); v < 0 || uint64(v) != n {
				t.Errorf("hist(%d, %d) counted in %s", v, bits, label)
			}
		default:
			lo, hi, _ := strings.Cut(label[1:len(label)-1], ", ")
			if l, h := labelValue(t, lo), labelValue(t, hi); v < 0 || uint64(v) < l || uint64(v) >= h {
				t.Errorf("hist(%d, %d) counted in %s", v, bits, label)
			}
		}
	}
}

// TestTSeriesValues: the intervals of a time series hold, per key, the
// last value recorded or its aggregation; tseries() maps print as graphs.
func TestTSeriesValues(t *testing.T) {
	testutil.RequireHelper(t, ebpf.RawTracepoint, asm.FnKtimeGetTaiNs)
	got, _ := run(t, `BEGIN {
	@last = tseries(5, 1d, 3); @last = tseries(-2, 1d, 3);
	@sum = tseries(5, 1d, 3, "sum"); @sum = tseries(-2, 1d, 3, "sum");
	@avg = tseries(5, 1d, 3, "avg"); @avg = tseries(-2, 1d, 3, "avg"); @avg = tseries(-10, 1d, 3, "avg");
	@min[1] = tseries(5, 1d, 3, "min"); @min[1] = tseries(-2, 1d, 3, "min"); @min[2] = tseries(8, 1d, 3, "min");
	@max = tseries(5, 1d, 3, "max"); @max = tseries(-2, 1d, 3, "max");
}`, plan.DefaultOptions)
	values := regexp.MustCompile(`(?m)^(@\S+:|\d\d:\d\d:\d\d .* (-?\d+))$`)
	var rows []string
	for _, m := range values.FindAllStringSubmatch(got, -1) {
		if m[2] != "" {
			rows = append(rows, m[2])
		} else {
			rows = append(rows, m[1])
		}
	}
	want := "@avg: -2 @last: -2 @max: 5 @min[1]: -2 @min[2]: 8 @sum: 3"
	if g := strings.Join(rows, " "); g != want {
		t.Errorf("got %s\nwant %s\nfrom\n%s", g, want, got)
	}
}
