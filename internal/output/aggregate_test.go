package output

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// print writes m with both writers and returns what each wrote.
func printBoth(t *testing.T, m *Map) (text, js string) {
	t.Helper()
	var tb, jb bytes.Buffer
	tw, jw := NewText(&tb), NewJSON(&jb)
	tw.Print(m)
	jw.Print(m)
	if err := errors.Join(tw.Flush(), jw.Flush()); err != nil {
		t.Fatal(err)
	}
	checkJSONLines(t, m.Name, jb.String())
	return tb.String(), jb.String()
}

// row is one histogram row: the label in 16 columns, the count in 8, a
// bar of at signs.
func row(label string, count, bar int) string {
	return fmt.Sprintf("%-16s%8d |%-52s|\n", label, count, strings.Repeat("@", bar))
}

// TestHistBits checks hist(x, BITS)'s rows: 2^BITS buckets per power of
// two, the values below 2*2^BITS one per bucket, the wider buckets
// labelled with bpftrace's suffix rule (a power of 1024 only where it
// divides the bound's power of two), their JSON bounds closed.
func TestHistBits(t *testing.T) {
	cases := []struct {
		bits      int
		h         HistValue
		text, js  string
		otherDivs bool
	}{
		{
			bits: 1, h: HistValue{0: 1, 1: 1, 5: 2},
			text: row("(..., 0)", 1, 26) + row("[0]", 1, 26) + row("[1]", 0, 0) + row("[2]", 0, 0) + row("[3]", 0, 0) + row("[4, 6)", 2, 52),
			js:   `[{"max": -1, "count": 1}, {"min": 0, "max": 0, "count": 1}, {"min": 1, "max": 1, "count": 0}, {"min": 2, "max": 2, "count": 0}, {"min": 3, "max": 3, "count": 0}, {"min": 4, "max": 5, "count": 2}]`,
		},
		{
			bits: 2, h: HistValue{4: 1, 9: 2, 10: 1},
			text: row("[3]", 1, 26) + row("[4]", 0, 0) + row("[5]", 0, 0) + row("[6]", 0, 0) + row("[7]", 0, 0) + row("[8, 10)", 2, 52) + row("[10, 12)", 1, 26),
			js:   `[{"min": 3, "max": 3, "count": 1}, {"min": 4, "max": 4, "count": 0}, {"min": 5, "max": 5, "count": 0}, {"min": 6, "max": 6, "count": 0}, {"min": 7, "max": 7, "count": 0}, {"min": 8, "max": 9, "count": 2}, {"min": 10, "max": 11, "count": 1}]`,
		},
		{
			bits: 2, h: HistValue{36: 4, 37: 1, 45: 2},
			text: row("[896, 1024)", 4, 52) + row("[1024, 1280)", 1, 13) + row("[1280, 1536)", 0, 0) + row("[1536, 1792)", 0, 0) +
				row("[1792, 2048)", 0, 0) + row("[2048, 2560)", 0, 0) + row("[2560, 3072)", 0, 0) + row("[3072, 3584)", 0, 0) +
				row("[3584, 4K)", 0, 0) + row("[4K, 5K)", 2, 26),
			js: `[{"min": 896, "max": 1023, "count": 4}, {"min": 1024, "max": 1279, "count": 1}, {"min": 1280, "max": 1535, "count": 0}, {"min": 1536, "max": 1791, "count": 0}, {"min": 1792, "max": 2047, "count": 0}, {"min": 2048, "max": 2559, "count": 0}, {"min": 2560, "max": 3071, "count": 0}, {"min": 3072, "max": 3583, "count": 0}, {"min": 3584, "max": 4095, "count": 0}, {"min": 4096, "max": 5119, "count": 2}]`,
		},
		{
			bits: 5, h: HistValue{64: 1, 66: 1},
			text: row("[63]", 1, 52) + row("[64, 66)", 0, 0) + row("[66, 68)", 1, 52),
			js:   `[{"min": 63, "max": 63, "count": 1}, {"min": 64, "max": 65, "count": 0}, {"min": 66, "max": 67, "count": 1}]`,
		},
		{
			// The last bucket ends at 2^64.
			bits: 5, h: HistValue{1920: 1},
			text: row("[16128P, 16384P)", 1, 52),
			js:   `[{"min": 18158513697557839872, "max": 18446744073709551615, "count": 1}]`,
		},
		{
			bits: 0, h: HistValue{3: 1, 12: 1},
			text: row("[2, 4)", 1, 52) + row("[4, 8)", 0, 0) + row("[8, 16)", 0, 0) + row("[16, 32)", 0, 0) + row("[32, 64)", 0, 0) +
				row("[64, 128)", 0, 0) + row("[128, 256)", 0, 0) + row("[256, 512)", 0, 0) + row("[512, 1K)", 0, 0) + row("[1K, 2K)", 1, 52),
			js: `[{"min": 2, "max": 3, "count": 1}, {"min": 4, "max": 7, "count": 0}, {"min": 8, "max": 15, "count": 0}, {"min": 16, "max": 31, "count": 0}, {"min": 32, "max": 63, "count": 0}, {"min": 64, "max": 127, "count": 0}, {"min": 128, "max": 255, "count": 0}, {"min": 256, "max": 511, "count": 0}, {"min": 512, "max": 1023, "count": 0}, {"min": 1024, "max": 2047, "count": 1}]`,
		},
	}
	for _, c := range cases {
		m := &Map{Name: "@h", Kind: Hist, Bits: c.bits, Entries: []Entry{{Value: c.h}}}
		text, js := printBoth(t, m)
		if want := "@h:\n" + c.text + "\n"; text != want {
			t.Errorf("bits %d, %v: got\n%s\nwant\n%s", c.bits, c.h, text, want)
		}
		if want := `{"type": "hist", "data": {"@h": ` + c.js + "}}\n"; js != want {
			t.Errorf("bits %d, %v: got\n%s\nwant\n%s", c.bits, c.h, js, want)
		}
	}
}

// TestLimitAggregates checks print(@m, TOP, DIV) on the kinds whose values
// are not plain integers: log2 histograms divide their counts (rows chosen
// before dividing), stats() their averages only, linear histograms
// nothing; time series ignore both arguments.
func TestLimitAggregates(t *testing.T) {
	h := &Map{Name: "@h", Kind: Hist, Keyed: true, Entries: []Entry{
		{Key: []any{int64(1)}, Value: HistValue{2: 1, 4: 7}},
		{Key: []any{int64(2)}, Value: HistValue{2: 1}},
		{Key: []any{int64(3)}, Value: HistValue{3: 20}},
	}}
	text, js := printBoth(t, Limit(h, 2, 2))
	want := "@h[1]:\n" + row("[1]", 0, 0) + row("[2, 4)", 0, 0) + row("[4, 8)", 3, 52) + "\n" +
		"@h[3]:\n" + row("[2, 4)", 10, 52) + "\n"
	if text != want {
		t.Errorf("hist: got\n%s\nwant\n%s", text, want)
	}
	if want := `{"type": "hist", "data": {"@h": {"1": [{"min": 1, "max": 1, "count": 0}, {"min": 2, "max": 3, "count": 0}, {"min": 4, "max": 7, "count": 3}], "3": [{"min": 2, "max": 3, "count": 10}]}}}` + "\n"; js != want {
		t.Errorf("hist: got\n%s\nwant\n%s", js, want)
	}
	l := lhist("@l", 0, 10, 5, false, e(HistValue{1: 3}))
	if text, _ := printBoth(t, Limit(l, 0, 2)); text != "@l:\n"+row("[0, 5)", 3, 52)+"\n" {
		t.Errorf("lhist: got\n%s", text)
	}
	s := keyed("@s", Stats, e(StatsValue{Count: 2, Total: 41}, "a"), e(StatsValue{Count: 1, Total: 3}, "b"), e(StatsValue{Count: 1, Total: -9}, "c"))
	text, js = printBoth(t, Limit(s, 2, 4))
	if want := "@s[b]: { .count = 1, .average = 0, .total = 3 }\n@s[a]: { .count = 2, .average = 5, .total = 41 }\n\n"; text != want {
		t.Errorf("stats: got\n%s\nwant\n%s", text, want)
	}
	if want := `{"type": "stats", "data": {"@s": {"b": {"count": 1, "average": 0, "total": 3}, "a": {"count": 2, "average": 5, "total": 41}}}}` + "\n"; js != want {
		t.Errorf("stats: got\n%s\nwant\n%s", js, want)
	}
	a := keyed("@a", Avg, e(int64(-9), "x"), e(int64(30), "y"), e(int64(7), "z"))
	if text, _ := printBoth(t, Limit(a, 2, 3)); text != "@a[z]: 2\n@a[y]: 10\n\n" {
		t.Errorf("avg: got\n%s", text)
	}
	ts := &Map{Name: "@t", Kind: TSeries, Keyed: true}
	if Limit(ts, 1, 5) != ts {
		t.Error("Limit changed a time series")
	}
}

// at is a time of day on a fixed date, in UTC: a series' interval starts
// print in the zone of their time.Time.
func at(h, m, s, ns int) time.Time { return time.Date(2026, 3, 4, h, m, s, ns, time.UTC) }

func point(t time.Time, v int64) TSeriesPoint { return TSeriesPoint{Start: t, Value: v, Set: true} }

// TestTSeries checks the graph of a time series: the range's ends above
// and below, the time column in the interval's unit, one row per
// interval with the value's star, '.' at zero when the range spans it, and
// "-" for an interval without a value; in JSON an array of intervals.
func TestTSeries(t *testing.T) {
	cases := []struct {
		name     string
		interval int64
		points   TSeriesValue
		text, js string
	}{
		{
			name:     "milliseconds, spanning zero, a gap",
			interval: 250e6,
			points:   TSeriesValue{point(at(12, 30, 0, 0), 3), point(at(12, 30, 0, 250e6), -2), {Start: at(12, 30, 0, 500e6)}, point(at(12, 30, 0, 750e6), 7)},
			text: "" +
				"             -2                                                  7\n" +
				"hh:mm:ss.ms  |___________________________________________________|\n" +
				"12:30:00.000 |          .                *                       | 3\n" +
				"12:30:00.250 *          .                                        | -2\n" +
				"12:30:00.500 |          .                                        | -\n" +
				"12:30:00.750 |          .                                        * 7\n" +
				"             v___________________________________________________v\n" +
				"             -2                                                  7\n",
			js: `[{"interval_start": "2026-03-04T12:30:00.000000000", "value": 3}, {"interval_start": "2026-03-04T12:30:00.250000000", "value": -2}, {"interval_start": "2026-03-04T12:30:00.500000000", "value": null}, {"interval_start": "2026-03-04T12:30:00.750000000", "value": 7}]`,
		},
		{
			name:     "seconds, flat",
			interval: 2e9,
			points:   TSeriesValue{point(at(8, 0, 0, 0), 5), point(at(8, 0, 2, 0), 5)},
			text: "" +
				"         4                                                   6\n" +
				"hh:mm:ss |___________________________________________________|\n" +
				"08:00:00 |                         *                         | 5\n" +
				"08:00:02 |                         *                         | 5\n" +
				"         v___________________________________________________v\n" +
				"         4                                                   6\n",
			js: `[{"interval_start": "2026-03-04T08:00:00.000000000", "value": 5}, {"interval_start": "2026-03-04T08:00:02.000000000", "value": 5}]`,
		},
		{
			name:     "microseconds, up from zero",
			interval: 5e3,
			points:   TSeriesValue{point(at(23, 59, 59, 999990000), 0), point(at(23, 59, 59, 999995000), 10)},
			text: "" +
				"                0                                                  10\n" +
				"hh:mm:ss.μs     |___________________________________________________|\n" +
				"23:59:59.999990 *                                                   | 0\n" +
				"23:59:59.999995 |                                                   * 10\n" +
				"                v___________________________________________________v\n" +
				"                0                                                  10\n",
			js: `[{"interval_start": "2026-03-04T23:59:59.999990000", "value": 0}, {"interval_start": "2026-03-04T23:59:59.999995000", "value": 10}]`,
		},
	}
	for _, c := range cases {
		m := &Map{Name: "@ts", Kind: TSeries, TS: TSeriesSpec{Interval: c.interval, Intervals: 10}, Entries: []Entry{{Value: c.points}}}
		text, js := printBoth(t, m)
		if want := "@ts:\n" + c.text + "\n"; text != want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, text, want)
		}
		if want := `{"type": "tseries", "data": {"@ts": ` + c.js + "}}\n"; js != want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, js, want)
		}
	}
}

// TestKeyedTSeries: a keyed time series prints one graph per key, by
// key; JSON maps each key to its array.
func TestKeyedTSeries(t *testing.T) {
	m := &Map{Name: "@ts", Kind: TSeries, Keyed: true, TS: TSeriesSpec{Interval: 1e9, Intervals: 3}, Entries: []Entry{
		{Key: []any{"late"}, Value: TSeriesValue{point(at(1, 0, 1, 0), 1), point(at(1, 0, 2, 0), 2)}},
		{Key: []any{"early"}, Value: TSeriesValue{point(at(1, 0, 0, 0), 9), {Start: at(1, 0, 1, 0)}}},
	}}
	text, js := printBoth(t, m)
	want := "@ts[early]:\n" +
		"         8                                                  10\n" +
		"hh:mm:ss |___________________________________________________|\n" +
		"01:00:00 |                         *                         | 9\n" +
		"01:00:01 |                                                   | -\n" +
		"         v___________________________________________________v\n" +
		"         8                                                  10\n" +
		"\n" +
		"@ts[late]:\n" +
		"         1                                                   2\n" +
		"hh:mm:ss |___________________________________________________|\n" +
		"01:00:01 *                                                   | 1\n" +
		"01:00:02 |                                                   * 2\n" +
		"         v___________________________________________________v\n" +
		"         1                                                   2\n" +
		"\n"
	if text != want {
		t.Errorf("got\n%s\nwant\n%s", text, want)
	}
	wantJS := `{"type": "tseries", "data": {"@ts": {"early": [{"interval_start": "2026-03-04T01:00:00.000000000", "value": 9}, {"interval_start": "2026-03-04T01:00:01.000000000", "value": null}], ` +
		`"late": [{"interval_start": "2026-03-04T01:00:01.000000000", "value": 1}, {"interval_start": "2026-03-04T01:00:02.000000000", "value": 2}]}}}` + "\n"
	if js != wantJS {
		t.Errorf("got\n%s\nwant\n%s", js, wantJS)
	}
}
