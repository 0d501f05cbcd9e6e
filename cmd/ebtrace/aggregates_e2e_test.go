package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// End-to-end tests of the aggregations of current bpftrace (issue 12):
// reading count(), sum(), min(), max() and avg() maps in probes and
// iterating over them, hist(x, BITS), tseries() and print(@m, TOP, DIV).

// TestReadAggregations: a probe reads a per-CPU aggregation as one
// integer, in printf, comparisons, arithmetic and casts.
func TestReadAggregations(t *testing.T) {
	testutil.RequireHelper(t, ebpf.RawTracepoint, asm.FnMapLookupPercpuElem)
	r := runCLI(t, "-q", "-e", `BEGIN { @c = count(); @c = count(); printf("%d\n", @c); exit(); }`)
	r.want(t, 0, "2\n\n\n@c: 2\n")
	r = runCLI(t, "-q", "-e", `BEGIN {
	@n = count(); @total = sum(40); @total = sum(2);
	@lo = min(7); @lo = min(-3); @hi[1] = max(-7); @hi[1] = max(-1); @mean = avg(10); @mean = avg(-25);
	if (@total == 42 && @n < 2) { printf("%d %d\n", (int64)@n, @total * 2 - @n); }
	printf("%d %d %d %d %d\n", @lo, @hi[1], @hi[2], @mean, @lo + @hi[1] + @mean);
	clear(@n); clear(@total); clear(@lo); clear(@hi); clear(@mean);
	exit();
}`)
	// At exit two blank lines, then the cleared maps: one each for @hi
	// and @lo, two for avg()'s @mean, count()'s 0 for @n, one for @total.
	r.want(t, 0, "1 83\n-3 -1 0 -7 -11\n"+"\n\n"+"\n\n\n\n"+"@n: 0\n\n")
}

// TestReadAggregationsInEvents: a tracepoint reads the counts and sums
// its own events built, and END iterates over a sum() map with each
// key's total.
func TestReadAggregationsInEvents(t *testing.T) {
	testutil.RequireHelper(t, ebpf.TracePoint, asm.FnMapLookupPercpuElem)
	testutil.RequireHelper(t, ebpf.RawTracepoint, asm.FnForEachMapElem)
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_write /pid == cpid/ {
	@n = count();
	@bytes[args.count % 2] = sum(args.count);
	if (@n == 5) { printf("after 5 writes: %d even, %d odd\n", @bytes[0], @bytes[1]); }
	if (@bytes[1] > 15 && @bytes[1] < 25) { printf("odd past 15 at %d\n", args.count); }
}
END {
	$weighted = 0;
	for ($kv : @bytes) { $weighted += $kv.1 * ($kv.0 + 1); }
	printf("weighted %d\n", $weighted);
}`, "-c", wl+" write 1 10")
	r.want(t, 0, "after 5 writes: 6 even, 9 odd\nodd past 15 at 7\nodd past 15 at 8\nweighted 80\n\n\n@bytes[1]: 25\n@bytes[0]: 30\n@n: 10\n")
}

// TestHistBits: hist(x, 2) splits each power of two into 4 buckets, one
// value each below 8, labelled as current bpftrace labels them, in text
// and JSON; the wrong number of bits is a diagnostic.
func TestHistBits(t *testing.T) {
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_write /pid == cpid/ { @sizes = hist(args.count, 2); }`
	r := runCLI(t, "-e", script, "-c", wl+" write 1 40")
	r.want(t, 0, `

@sizes:
[1]                    1 |@@@@@@                                              |
[2]                    1 |@@@@@@                                              |
[3]                    1 |@@@@@@                                              |
[4]                    1 |@@@@@@                                              |
[5]                    1 |@@@@@@                                              |
[6]                    1 |@@@@@@                                              |
[7]                    1 |@@@@@@                                              |
[8, 10)                2 |@@@@@@@@@@@@@                                       |
[10, 12)               2 |@@@@@@@@@@@@@                                       |
[12, 14)               2 |@@@@@@@@@@@@@                                       |
[14, 16)               2 |@@@@@@@@@@@@@                                       |
[16, 20)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[20, 24)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[24, 28)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[28, 32)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[32, 40)               8 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[40, 48)               1 |@@@@@@                                              |

`)
	r = runCLI(t, "-q", "-f", "json", "-e", script, "-c", wl+" write 30 40")
	r.want(t, 0, `{"type": "hist", "data": {"@sizes": [{"min": 28, "max": 31, "count": 2}, {"min": 32, "max": 39, "count": 8}, {"min": 40, "max": 47, "count": 1}]}}
`)
	r = runCLI(t, "-e", `BEGIN { @h = hist(1, 6); }`)
	r.want(t, 1, "")
	if want := "stdin:1:22: error: hist()'s bits must be an integer literal from 0 to 5\n" +
		"    BEGIN { @h = hist(1, 6); }\n" +
		"                         ^\n" +
		"hint: hist(x, BITS) splits each power of two into 2^BITS buckets\n"; r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}

// intervalClock is the wall-clock time of day at which the interval of
// length d holding now starts, as tseries() counts intervals: on the TAI
// clock.
func intervalClock(t *testing.T, d time.Duration) string {
	var tai, real unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_TAI, &tai); err != nil {
		t.Fatal(err)
	}
	unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	offset := time.Duration(tai.Nano() - real.Nano()).Round(time.Second)
	start := time.Duration(tai.Nano()) / d * d
	return time.Unix(0, int64(start-offset)).Local().Format("15:04:05")
}

// TestTSeries: tseries() keeps each interval's last value, or its sum,
// average, least or greatest, and prints a graph per map; within one day
// interval the writes of a workload make one row. JSON gives the
// interval's start and value.
func TestTSeries(t *testing.T) {
	testutil.RequireHelper(t, ebpf.TracePoint, asm.FnKtimeGetTaiNs)
	wl := testutil.Workload(t)
	script := `tracepoint:syscalls:sys_enter_write /pid == cpid/ {
	@last = tseries(args.count, 1d, 7); @sum = tseries(args.count, 1d, 7, "sum");
	@avg = tseries(args.count, 1d, 7, "avg"); @min[args.count % 2] = tseries(args.count, 1d, 7, "min");
}`
	before := intervalClock(t, 24*time.Hour)
	r := runCLI(t, "-e", script, "-c", wl+" write 1 10")
	if after := intervalClock(t, 24*time.Hour); after != before {
		t.Skip("the run crossed a day's interval")
	}
	graph := func(lo, hi, at int, value string) string {
		line := []byte("|" + strings.Repeat(" ", 51) + "|")
		line[at] = '*'
		ends := fmt.Sprintf("         %-21d%32d\n", lo, hi)
		return ends + "hh:mm:ss |___________________________________________________|\n" +
			before + " " + string(line) + " " + value + "\n" +
			"         v___________________________________________________v\n" + ends + "\n"
	}
	r.want(t, 0, "\n\n"+
		"@avg:\n"+graph(4, 6, 26, "5")+
		"@last:\n"+graph(9, 11, 26, "10")+
		"@min[0]:\n"+graph(1, 3, 26, "2")+
		"@min[1]:\n"+graph(0, 2, 26, "1")+
		"@sum:\n"+graph(54, 56, 26, "55"))
	r = runCLI(t, "-q", "-f", "json", "-e", `tracepoint:syscalls:sys_enter_write /pid == cpid/ { @t = tseries(args.count, 1d, 3, "max"); }`, "-c", wl+" write 3 8")
	start := regexp.MustCompile(`"interval_start": "(\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)\.000000000)"`)
	m := start.FindStringSubmatch(r.stdout)
	if m == nil || m[2] != before {
		t.Fatalf("no interval starting at %s in %s", before, r.stdout)
	}
	r.want(t, 0, `{"type": "tseries", "data": {"@t": [{"interval_start": "`+m[1]+`", "value": 8}]}}
`)
}

// TestTSeriesIntervals: an interval probe firing every 100 ms records a
// count per 100 ms interval; the graph shows consecutive intervals, each
// with the count so far, and at most the number of intervals kept.
func TestTSeriesIntervals(t *testing.T) {
	testutil.RequireHelper(t, ebpf.RawTracepoint, asm.FnKtimeGetTaiNs)
	r := runCLI(t, "-q", "-e", `interval:ms:100 /@n < 8/ { @n++; @t = tseries(@n, 100ms, 4, "max"); if (@n == 8) { exit(); } }`)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	row := regexp.MustCompile(`(?m)^(\d\d:\d\d:\d\d\.\d{3}) [|*][ .*]{51}[|*] (\d+|-)$`)
	rows := row.FindAllStringSubmatch(r.stdout, -1)
	if len(rows) < 2 || len(rows) > 4 {
		t.Fatalf("%d rows, want 2 to 4:\n%s", len(rows), r.stdout)
	}
	var prev time.Time
	for i, m := range rows {
		at, err := time.Parse("15:04:05.000", m[1])
		if err != nil {
			t.Fatal(err)
		}
		if at.Nanosecond()%int(100*time.Millisecond) != 0 || i > 0 && at.Sub(prev) != 100*time.Millisecond {
			t.Errorf("row %d starts at %s, after %s: not the next 100 ms interval", i, m[1], prev.Format("15:04:05.000"))
		}
		prev = at
	}
	if last := rows[len(rows)-1][2]; last != "8" {
		t.Errorf("last interval holds %s, want 8:\n%s", last, r.stdout)
	}
	if !strings.HasPrefix(r.stdout, "\n\n@n: 8\n@t:\n") || !strings.Contains(r.stdout, "\nhh:mm:ss.ms  |___") {
		t.Errorf("layout:\n%s", r.stdout)
	}
}

// TestPrintTopDivKinds: print(@m, TOP, DIV) prints the TOP greatest
// entries, ascending, values divided by DIV, for every kind of value:
// plain and per-CPU integers, averages, stats() averages (not their
// counts and totals) and log2 histogram counts (the rows those had).
func TestPrintTopDivKinds(t *testing.T) {
	r := runCLI(t, "-q", "-e", `BEGIN {
	for ($i : 1..11) { @m[$i] = $i * 10; }
	print(@m, 3); print(@m, 2, 7);
	@s["a"] = sum(100); @s["b"] = sum(30); @s["c"] = sum(5); print(@s, 2, 10);
	@h = hist(3); @h = hist(3); @h = hist(100); print(@h, 1, 2);
	@st = stats(10); @st = stats(21); print(@st, 0, 5);
	@a[1] = avg(50); @a[2] = avg(7); print(@a, 1, 4);
	clear(@m); clear(@s); clear(@h); clear(@st); clear(@a);
	exit();
}`)
	r.want(t, 0, `@m[8]: 80
@m[9]: 90
@m[10]: 100
@m[9]: 12
@m[10]: 14
@s[b]: 3
@s[a]: 10
@h:
[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[4, 8)                 0 |                                                    |
[8, 16)                0 |                                                    |
[16, 32)               0 |                                                    |
[32, 64)               0 |                                                    |
[64, 128)              0 |                                                    |

@st: { .count = 2, .average = 3, .total = 31 }

@a[1]: 12

`+strings.Repeat("\n", 9)) // after @a's blank line: two at exit, two each for the cleared @a and @st, one each for @h, @m, @s
}
