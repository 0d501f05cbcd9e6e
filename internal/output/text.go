package output

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// text lays results out as bpftrace does on a terminal.
type text struct {
	w          *bufio.Writer
	legacy     bool        // bpftrace 0.17's layout (NewLegacyText)
	benchmarks []Benchmark // written by End
	heatmap    heatmapLines
}

// Attached writes nothing: the CLI reports attachment on stderr.
func (t *text) Attached(int) {}

func (t *text) Printf(s string) { t.w.WriteString(s) }

// Join writes the joined elements on a line of their own.
func (t *text) Join(s string) { t.w.WriteString(s + "\n") }

// Value writes a print()ed value on a line of its own.
func (t *text) Value(v any) { t.w.WriteString(textValue(v) + "\n") }

func (t *text) Lost(events uint64) {
	t.w.WriteString("Lost " + strconv.FormatUint(events, 10) + " events\n")
}

// End opens with two newlines, which bpftrace writes at exit even when
// there is no map to print, then writes the --bench table, if any.
func (t *text) End(maps []*Map) {
	t.w.WriteString("\n\n")
	if t.benchmarks != nil {
		t.benchmarkTable(t.benchmarks)
	}
	for _, m := range byName(maps) {
		t.Print(m)
	}
}

// Print writes one line per entry, "@name[key]: value", or for histograms
// a "@name[key]:" header (0.17's had a trailing space), the rows and a
// blank line, for time series an "@name[key]:" header, the graph and a
// blank line. avg() and stats() maps end with a blank
// line, and an empty map prints one more; an empty unkeyed count() prints
// "@x: 0" instead.
func (t *text) Print(m *Map) {
	entries := shown(m)
	for _, e := range entries {
		head := m.Name + textKey(m, e.Key) + ": "
		switch m.Kind {
		case Hist, LHist:
			if t.legacy {
				t.w.WriteString(head + "\n")
			} else {
				t.w.WriteString(strings.TrimSuffix(head, " ") + "\n")
			}
			t.hist(buckets(m, e.Value))
			t.w.WriteString("\n")
		case TSeries:
			t.w.WriteString(m.Name + textKey(m, e.Key) + ":\n")
			t.tseries(m, e.Value)
			t.w.WriteString("\n")
		case Stats:
			s, _ := e.Value.(StatsValue)
			layout := "%s{ .count = %d, .average = %d, .total = %d }\n"
			if t.legacy {
				layout = "%scount %d, average %d, total %d\n"
			}
			fmt.Fprintf(t.w, layout, head, s.Count, average(s, m.Div), s.Total)
		default:
			t.w.WriteString(head + textValue(e.Value) + "\n")
		}
	}
	if m.Kind == Avg || m.Kind == Stats {
		t.w.WriteString("\n")
	}
	if len(entries) == 0 {
		t.w.WriteString("\n")
	}
}

func textKey(m *Map, key []any) string {
	if !m.Keyed {
		return ""
	}
	parts := make([]string, len(key))
	for i, p := range key {
		parts[i] = keyPart(m, p)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// hist writes rows as "label count |bar|": the label left-aligned in 16
// columns, the count right-aligned in 8.
func (t *text) hist(rows []bucket) {
	var fullest uint64
	for _, r := range rows {
		fullest = max(fullest, r.count)
	}
	for _, r := range rows {
		n := barLength(r.count, fullest)
		fmt.Fprintf(t.w, "%-16s%8d |%s%s|\n", r.label, r.count, strings.Repeat("@", n), strings.Repeat(" ", barWidth-n))
	}
}

func (t *text) Flush() error { return t.w.Flush() }
