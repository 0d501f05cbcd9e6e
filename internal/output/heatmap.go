package output

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// A latency heatmap draws a log2 histogram of nanoseconds as one line of
// shaded cells, one line per interval, so that a distribution's change
// over time shows as a picture scrolling up a terminal. The axis runs
// from 1us to 10s: each power of two from 2^10 ns to 2^33 ns is one cell
// of three columns, about ten columns per decade.

const (
	// HeatmapCells is the number of cells of a heatmap row: cell i counts
	// the values in [2^(10+i), 2^(11+i)) nanoseconds, the first also those
	// below and the last those above.
	HeatmapCells = 24
	// HeatmapAxisEvery is how many rows may follow the axis before it is
	// written again, so that a scrolling terminal always shows it.
	HeatmapAxisEvery = 20

	heatmapFirstPower = 10 // 2^10 ns, the first cell, starts at 1us
	heatmapCellWidth  = 3
)

// heatmapRamp shades text cells, from the least count to the greatest;
// an empty cell is blank.
const heatmapRamp = ".:-=+*#%@"

// ANSI 256-colour greys run from colour 232 (near black) to 255 (near
// white): the greatest count is the brightest.
const (
	greyFirst  = 232
	greyLevels = 24
	ansiReset  = "\x1b[0m"
)

// HeatmapCounts sums log2 histogram h (Bits 0, indexed as HistValue
// says) into the heatmap's cells: values under 2^10 ns (0 and negative
// ones too) count in the first cell, those from 2^34 ns on in the last.
func HeatmapCounts(h HistValue) [HeatmapCells]uint64 {
	var cells [HeatmapCells]uint64
	for i, n := range h {
		power := max(i-2, 0) // bucket i >= 2 holds [2^(i-2), 2^(i-1))
		cells[min(max(power-heatmapFirstPower, 0), HeatmapCells-1)] += n
	}
	return cells
}

// HeatmapAxis is the line of labels written above heatmap rows: 1us at
// the first cell's column, then each decade ten columns further, up to
// 10s. It has no newline.
func HeatmapAxis() string {
	var b strings.Builder
	for i, label := range []string{"1us", "10us", "100us", "1ms", "10ms", "100ms", "1s", "10s"} {
		b.WriteString(strings.Repeat(" ", 10*i-b.Len()))
		b.WriteString(label)
	}
	return b.String()
}

// HeatmapRow draws log2 histogram h (Bits 0) as one heatmap row, without
// a newline: its HeatmapCounts, each three columns wide and shaded by
// its count relative to the row's greatest, then a space and the row's
// total count. Cells are ANSI 256-colour grey backgrounds or, when text
// is set, characters of increasing density (".:-=+*#%@"); an empty cell
// is blank either way.
func HeatmapRow(h HistValue, text bool) string {
	cells := HeatmapCounts(h)
	var fullest, total uint64
	for _, n := range cells {
		fullest = max(fullest, n)
		total += n
	}
	var b strings.Builder
	blank := strings.Repeat(" ", heatmapCellWidth)
	for _, n := range cells {
		switch {
		case n == 0:
			b.WriteString(blank)
		case text:
			c := heatmapRamp[shade(n, fullest, len(heatmapRamp))]
			b.WriteString(strings.Repeat(string(c), heatmapCellWidth))
		default:
			grey := greyFirst + shade(n, fullest, greyLevels)
			b.WriteString("\x1b[48;5;" + strconv.Itoa(grey) + "m" + blank + ansiReset)
		}
	}
	b.WriteString(" " + strconv.FormatUint(total, 10))
	return b.String()
}

// shade is the level, 0 to levels-1, of a count n from 1 to fullest:
// ceil(n*levels/fullest) - 1, so every level covers an equal share of
// the counts and only the fullest cells take the last.
func shade(n, fullest uint64, levels int) int {
	hi, lo := bits.Mul64(n, uint64(levels))
	lo, borrow := bits.Sub64(lo, 1, 0)
	q, _ := bits.Div64(hi-borrow, lo, fullest)
	return int(q)
}

// heatmapLines writes heatmap rows as text, with the axis before the
// first row and again before a call's rows once HeatmapAxisEvery rows
// have followed it; the rows of one call are never split.
type heatmapLines struct {
	started bool
	since   int // rows written since the axis
}

// rows returns the text of one heatmap() call's rows.
func (l *heatmapLines) rows(rows []string) string {
	var b strings.Builder
	if !l.started || l.since >= HeatmapAxisEvery {
		b.WriteString(HeatmapAxis() + "\n")
		l.started, l.since = true, 0
	}
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	l.since += len(rows)
	return b.String()
}

// heatmapRows draws m, a log2 histogram map, as the rows of one
// heatmap() call: an unkeyed map's single row (blank, total 0, when it is
// empty), or a row per key in key order, each followed by two spaces and
// the map's name with the key; a keyed map without keys draws one blank
// row.
func heatmapRows(m *Map, text bool) []string {
	if len(m.Entries) == 0 {
		return []string{HeatmapRow(nil, text)}
	}
	entries := byKey(m)
	rows := make([]string, len(entries))
	for i, e := range entries {
		h, _ := e.Value.(HistValue)
		rows[i] = HeatmapRow(h, text)
		if m.Keyed {
			rows[i] += "  " + m.Name + textKey(m, e.Key)
		}
	}
	return rows
}

// Heatmap writes the rows of m, with the axis when it is due (see
// heatmapLines).
func (t *text) Heatmap(m *Map, text bool) {
	t.w.WriteString(t.heatmap.rows(heatmapRows(m, text)))
}

// Heatmap writes {"type": "heatmap", "data": {"@name": V}}, where V is
// {"cells": [24 counts], "total": N} (see HeatmapCounts), or for a keyed
// map an object from key to that; text makes no difference.
func (j *jsonw) Heatmap(m *Map, _ bool) {
	row := func(v any) string {
		h, _ := v.(HistValue)
		cells := HeatmapCounts(h)
		counts := make([]string, len(cells))
		var total uint64
		for i, n := range cells {
			counts[i] = strconv.FormatUint(n, 10)
			total += n
		}
		return `{"cells": [` + strings.Join(counts, ", ") + `], "total": ` + strconv.FormatUint(total, 10) + "}"
	}
	var data string
	switch {
	case m.Keyed:
		items := make([]string, 0, len(m.Entries))
		for _, e := range byKey(m) {
			items = append(items, quote(jsonKey(m, e.Key))+": "+row(e.Value))
		}
		data = "{" + strings.Join(items, ", ") + "}"
	case len(m.Entries) == 0:
		data = row(nil)
	default:
		data = row(m.Entries[0].Value)
	}
	j.w.WriteString(`{"type": "heatmap", "data": {` + quote(m.Name) + ": " + data + "}}\n")
}

// byKey returns m's entries in key order: a keyed heatmap's rows keep
// their places from one interval to the next.
func byKey(m *Map) []Entry {
	entries := slices.Clone(m.Entries)
	slices.SortFunc(entries, func(a, b Entry) int { return compareKeys(a.Key, b.Key) })
	return entries
}
