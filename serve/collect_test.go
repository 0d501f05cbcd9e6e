package serve

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ebtrace/ebtrace"
)

// exposition renders snapshots as /metrics would.
func exposition(t *testing.T, s *Server, sc *script, snaps ...ebtrace.MapSnapshot) string {
	t.Helper()
	var families []*family
	for _, m := range snaps {
		if f := s.mapFamily(sc, m); f != nil {
			families = append(families, f)
		}
	}
	slices.SortFunc(families, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	var b bytes.Buffer
	if err := writeFamilies(&b, families); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func testServer(maxSeries int) (*Server, *script, *bytes.Buffer) {
	var log bytes.Buffer
	s := &Server{opts: Options{MaxSeries: maxSeries}, log: &log}
	return s, newScript("top", "/etc/ebtrace/top.bt", nil, 10), &log
}

func TestCollectKinds(t *testing.T) {
	s, sc, _ := testServer(DefaultMaxSeries)
	got := exposition(t, s, sc,
		ebtrace.MapSnapshot{Name: "@calls", Kind: ebtrace.KindCount, Keyed: true, KeyNames: []string{"comm", "pid"}, Counter: true,
			Entries: []ebtrace.Entry{{Key: []any{"bash", int64(7)}, Value: int64(3)}, {Key: []any{"cat", int64(9)}, Value: int64(5)}}},
		ebtrace.MapSnapshot{Name: "@", Kind: ebtrace.KindScalar, Entries: []ebtrace.Entry{{Value: int64(-4)}}},
		ebtrace.MapSnapshot{Name: "@lat", Kind: ebtrace.KindHist, Keyed: true, KeyNames: []string{""},
			Entries: []ebtrace.Entry{{Key: []any{"read"}, Value: []ebtrace.Bucket{{Low: 0, High: 0, Count: 1}, {Low: 4, High: 7, Count: 2}, {Low: 8, High: 15, Count: 0}, {Low: 16, High: 31, Count: 3}}}}},
		ebtrace.MapSnapshot{Name: "@sizes", Kind: ebtrace.KindLHist,
			Entries: []ebtrace.Entry{{Value: []ebtrace.Bucket{{Low: math.MinInt64, High: -1, Count: 1}, {Low: 0, High: 9, Count: 2}, {Low: 100, High: math.MaxInt64, Count: 4}}}}},
		ebtrace.MapSnapshot{Name: "@st", Kind: ebtrace.KindStats, Keyed: true, KeyNames: []string{"le"},
			Entries: []ebtrace.Entry{{Key: []any{int64(1)}, Value: ebtrace.Stats{Count: 4, Sum: 10, Avg: 2}}}},
		ebtrace.MapSnapshot{Name: "@name", Kind: ebtrace.KindString, Entries: []ebtrace.Entry{{Value: "x"}}},
		ebtrace.MapSnapshot{Name: "@start", Kind: ebtrace.KindScalar, Keyed: true, KeyNames: []string{"tid"}, Scratch: true,
			Entries: []ebtrace.Entry{{Key: []any{int64(5)}, Value: int64(123)}}},
	)
	want := `# HELP ebtrace_top Value of map @ in /etc/ebtrace/top.bt
# TYPE ebtrace_top gauge
ebtrace_top -4
# HELP ebtrace_top_calls_total Count() of map @calls in /etc/ebtrace/top.bt
# TYPE ebtrace_top_calls_total counter
ebtrace_top_calls_total{comm="bash",pid="7"} 3
ebtrace_top_calls_total{comm="cat",pid="9"} 5
# HELP ebtrace_top_lat Log2 histogram of map @lat in /etc/ebtrace/top.bt
# TYPE ebtrace_top_lat histogram
ebtrace_top_lat_bucket{key0="read",le="0"} 1
ebtrace_top_lat_bucket{key0="read",le="7"} 3
ebtrace_top_lat_bucket{key0="read",le="15"} 3
ebtrace_top_lat_bucket{key0="read",le="31"} 6
ebtrace_top_lat_bucket{key0="read",le="+Inf"} 6
ebtrace_top_lat_sum{key0="read"} NaN
ebtrace_top_lat_count{key0="read"} 6
# HELP ebtrace_top_sizes Linear histogram of map @sizes in /etc/ebtrace/top.bt
# TYPE ebtrace_top_sizes histogram
ebtrace_top_sizes_bucket{le="-1"} 1
ebtrace_top_sizes_bucket{le="9"} 3
ebtrace_top_sizes_bucket{le="+Inf"} 7
ebtrace_top_sizes_sum NaN
ebtrace_top_sizes_count 7
# HELP ebtrace_top_st Stats() of map @st in /etc/ebtrace/top.bt
# TYPE ebtrace_top_st gauge
ebtrace_top_st{key0="1",stat="avg"} 2
ebtrace_top_st{key0="1",stat="count"} 4
ebtrace_top_st{key0="1",stat="sum"} 10
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Keys that print alike are one series; a stack-keyed map is left out,
// with a warning said once.
func TestCollectMergeAndStacks(t *testing.T) {
	s, sc, log := testServer(DefaultMaxSeries)
	stack := []ebtrace.Frame{{Address: 1, Symbol: "f"}}
	snaps := []ebtrace.MapSnapshot{
		{Name: "@funcs", Kind: ebtrace.KindCount, Keyed: true, KeyNames: []string{"ksym"}, Counter: true,
			Entries: []ebtrace.Entry{{Key: []any{"vfs_read"}, Value: int64(2)}, {Key: []any{"vfs_read"}, Value: int64(5)}}},
		{Name: "@peak", Kind: ebtrace.KindMax, Keyed: true, KeyNames: []string{"ksym"},
			Entries: []ebtrace.Entry{{Key: []any{"vfs_read"}, Value: int64(2)}, {Key: []any{"vfs_read"}, Value: int64(5)}, {Key: []any{"vfs_read"}, Value: int64(3)}}},
		{Name: "@h", Kind: ebtrace.KindHist, Keyed: true, KeyNames: []string{"ksym"}, Entries: []ebtrace.Entry{
			{Key: []any{"f"}, Value: []ebtrace.Bucket{{Low: 1, High: 1, Count: 1}, {Low: 2, High: 3, Count: 1}}},
			{Key: []any{"f"}, Value: []ebtrace.Bucket{{Low: 2, High: 3, Count: 2}, {Low: 4, High: 7, Count: 1}}}}},
		{Name: "@stacks", Kind: ebtrace.KindCount, Keyed: true, Counter: true, Entries: []ebtrace.Entry{{Key: []any{stack}, Value: int64(1)}}},
	}
	got := exposition(t, s, sc, snaps...)
	exposition(t, s, sc, snaps...)
	for _, want := range []string{
		`ebtrace_top_funcs_total{ksym="vfs_read"} 7`,
		`ebtrace_top_peak{ksym="vfs_read"} 5`,
		`ebtrace_top_h_bucket{ksym="f",le="1"} 1` + "\n" + `ebtrace_top_h_bucket{ksym="f",le="3"} 4` + "\n" + `ebtrace_top_h_bucket{ksym="f",le="7"} 5`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %s in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "stacks") {
		t.Errorf("a stack map was exported:\n%s", got)
	}
	if want := "ebtrace serve: /etc/ebtrace/top.bt: map @stacks is keyed by a stack: the page draws it as a flame graph; /metrics leaves it out\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
}

// A map of more keys than the cap exports the largest and counts the
// rest at every scrape, warning once.
func TestCollectCap(t *testing.T) {
	s, sc, log := testServer(2)
	m := ebtrace.MapSnapshot{Name: "@c", Kind: ebtrace.KindCount, Keyed: true, KeyNames: []string{"comm"}, Counter: true, Entries: []ebtrace.Entry{
		{Key: []any{"a"}, Value: int64(1)}, {Key: []any{"b"}, Value: int64(9)}, {Key: []any{"c"}, Value: int64(4)}, {Key: []any{"d"}, Value: int64(2)}}}
	got := exposition(t, s, sc, m)
	exposition(t, s, sc, m)
	if !strings.Contains(got, `ebtrace_top_c_total{comm="b"} 9`+"\n"+`ebtrace_top_c_total{comm="c"} 4`+"\n") || strings.Contains(got, `comm="d"`) {
		t.Errorf("not the two largest:\n%s", got)
	}
	if sc.seriesDropped["@c"] != 4 {
		t.Errorf("dropped %d, want 2 per scrape", sc.seriesDropped["@c"])
	}
	if n := strings.Count(log.String(), "more than the 2 series"); n != 1 {
		t.Errorf("warned %d times: %q", n, log.String())
	}
}

func TestMetricNames(t *testing.T) {
	for in, want := range map[string]string{"syscalls": "syscalls", "read-latency.v2": "read_latency_v2", "2015": "_2015", "__x__": "x", "": "_"} {
		if got := metricName(in); got != want {
			t.Errorf("metricName(%q) = %q, want %q", in, got, want)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:9435": true, "localhost:1": true, "[::1]:9": true, ":9435": false, "0.0.0.0:9435": false, "10.1.2.3:80": false, "nonsense": false} {
		if Loopback(addr) != want {
			t.Errorf("Loopback(%q) = %v", addr, !want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"gzip"}, true},
		{[]string{"identity", "GZIP"}, true},
		{[]string{"br, gzip;q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"deflate, br"}, false},
		{[]string{"x-gzip"}, false},
	} {
		if got := acceptsGzip(c.values); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.values, got, c.want)
		}
	}
}

// FuzzExposition writes a counter and a histogram with arbitrary help,
// label values and numbers, and has Prometheus's own parser read them
// back.
func FuzzExposition(f *testing.F) {
	f.Add("Count() of map @x", "bash", 3.0, uint64(7), 4.0)
	f.Add("a \\ back\nslash", "quote \" and \\ and \n", math.Inf(1), uint64(0), -1.5e-300)
	f.Add("", "\xff\xfe not UTF-8", math.NaN(), uint64(1<<63), -math.MaxFloat64)
	f.Fuzz(func(t *testing.T, help, value string, v float64, count uint64, le float64) {
		if math.IsNaN(le) || math.IsInf(le, 0) {
			return // a bucket's bound is a finite number; +Inf's is the count
		}
		families := []*family{
			{name: "ebtrace_a_total", help: help, kind: counterKind, samples: []*sample{
				{labels: []label{{"comm", value}, {"key1", "x"}}, value: v},
			}},
			{name: "ebtrace_b", help: help, kind: histogramKind, samples: []*sample{
				{labels: []label{{"comm", value}}, count: count, sum: v, buckets: map[float64]uint64{le: count / 2}},
			}},
		}
		var b bytes.Buffer
		if err := writeFamilies(&b, families); err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.LegacyValidation)
		got, err := parser.TextToMetricFamilies(&b)
		if err != nil {
			t.Fatalf("Prometheus's parser: %v on\n%s", err, b.String())
		}
		wantValue := strings.ToValidUTF8(value, "\uFFFD")
		same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
		c := got["ebtrace_a_total"]
		// The parser skips the blanks before a help text, as it does
		// those between a line's other fields.
		if c.GetHelp() != strings.TrimLeft(help, " \t") || c.GetType() != dto.MetricType_COUNTER || len(c.Metric) != 1 {
			t.Fatalf("counter family read back as %v", c)
		}
		if l := c.Metric[0].Label; len(l) != 2 || l[0].GetValue() != wantValue || l[1].GetValue() != "x" {
			t.Errorf("counter labels read back as %v, want comm=%q key1=x", l, wantValue)
		}
		if got := c.Metric[0].Counter.GetValue(); !same(got, v) {
			t.Errorf("counter value read back as %v, want %v", got, v)
		}
		// The parser reads every number as a float64, as Prometheus
		// stores it.
		read := func(n uint64) uint64 { return uint64(float64(n)) }
		h := got["ebtrace_b"].GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != read(count) || !same(h.GetSampleSum(), v) {
			t.Errorf("histogram count and sum read back as %d and %v, want %d and %v", h.GetSampleCount(), h.GetSampleSum(), read(count), v)
		}
		bk := h.GetBucket()
		if len(bk) != 2 || bk[0].GetUpperBound() != le || bk[0].GetCumulativeCount() != read(count/2) ||
			!math.IsInf(bk[1].GetUpperBound(), 1) || bk[1].GetCumulativeCount() != read(count) {
			t.Errorf("buckets read back as %v, want le=%v of %d and +Inf of %d", bk, le, read(count/2), read(count))
		}
	})
}
