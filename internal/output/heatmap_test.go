package output

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
)

// grey is an ANSI heatmap cell of colour c.
func grey(c string) string { return "\x1b[48;5;" + c + "m   \x1b[0m" }

func TestHeatmapAxis(t *testing.T) {
	want := "1us       10us      100us     1ms       10ms      100ms     1s        10s"
	if got := HeatmapAxis(); got != want {
		t.Errorf("HeatmapAxis() = %q, want %q", got, want)
	}
}

func TestHeatmapCounts(t *testing.T) {
	h := HistValue{
		0:  1, // negative
		1:  2, // 0
		11: 4, // [512, 1024): under the axis
		12: 8, // [1024, 2048): the first cell's own
		22: 16,
		35: 32, // [2^33, 2^34): the last cell's own
		36: 64, // [2^34, 2^35): over the axis
		65: 128,
	}
	want := [HeatmapCells]uint64{0: 1 + 2 + 4 + 8, 10: 16, 23: 32 + 64 + 128}
	if got := HeatmapCounts(h); got != want {
		t.Errorf("HeatmapCounts = %v, want %v", got, want)
	}
}

func TestHeatmapRow(t *testing.T) {
	// 2 in the first cell (1024 ns and 0), 3 in cell 5 (2^15 ns), 4 in
	// cell 10 (2^20 ns), 2 in the last (2^40 ns, clamped).
	h := HistValue{12: 1, 1: 1, 17: 3, 22: 4, 42: 2}
	blank := func(cells int) string { return strings.Repeat("   ", cells) }
	ramp := HistValue{}
	for i := range 9 {
		ramp[12+i] = uint64(i + 1)
	}
	greys := HistValue{}
	var allGreys string
	for i := range HeatmapCells {
		greys[12+i] = uint64(i + 1)
		allGreys += grey(strconv.Itoa(232 + i))
	}
	for _, c := range []struct {
		name string
		h    HistValue
		text bool
		want string
	}{
		{"text", h, true, "+++            ###            @@@                                    +++ 11"},
		{"ansi", h, false, grey("243") + blank(4) + grey("249") + blank(4) + grey("255") + blank(12) + grey("243") + " 11"},
		{"text ramp", ramp, true, "...:::---===+++***###%%%@@@" + blank(15) + " 45"},
		{"every grey", greys, false, allGreys + " 300"},
		{"one count", HistValue{20: 1}, true, blank(8) + "@@@" + blank(15) + " 1"},
		{"empty text", nil, true, blank(24) + " 0"},
		{"empty ansi", HistValue{15: 0}, false, blank(24) + " 0"},
		{"huge counts", HistValue{12: math.MaxInt64, 13: math.MaxInt64 / 2}, true, "@@@+++" + blank(22) + " 13835058055282163710"},
	} {
		if got := HeatmapRow(c.h, c.text); got != c.want {
			t.Errorf("%s: HeatmapRow =\n%q, want\n%q", c.name, got, c.want)
		}
	}
}

// The axis opens the first call's rows and returns before a call once
// HeatmapAxisEvery rows followed it; a keyed map's rows, labelled with
// their keys in key order, stay together.
func TestTextHeatmap(t *testing.T) {
	var out bytes.Buffer
	w := NewText(&out)
	row := &Map{Name: "@lat", Kind: Hist, Entries: []Entry{{Value: HistValue{22: 3}}}}
	for range HeatmapAxisEvery - 1 {
		w.Heatmap(row, true)
	}
	byDisk := keyed("@lat", Hist, e(HistValue{22: 1}, "vdb", int64(2)), e(HistValue{12: 5, 13: 1}, "vda", int64(7)))
	w.Heatmap(byDisk, true)
	w.Heatmap(&Map{Name: "@lat", Kind: Hist}, true)
	w.Heatmap(&Map{Name: "@lat", Kind: Hist, Keyed: true}, true)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	axis := "1us       10us      100us     1ms       10ms      100ms     1s        10s\n"
	one := "                              @@@                                        3\n"
	want := axis + strings.Repeat(one, HeatmapAxisEvery-1) +
		"@@@:::                                                                   6  @lat[vda, 7]\n" +
		"                              @@@                                        1  @lat[vdb, 2]\n" +
		axis +
		"                                                                         0\n" +
		"                                                                         0\n"
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestJSONHeatmap(t *testing.T) {
	var out bytes.Buffer
	w := NewJSON(&out)
	w.Heatmap(&Map{Name: "@lat", Kind: Hist, Entries: []Entry{{Value: HistValue{1: 2, 22: 3, 40: 1}}}}, false)
	w.Heatmap(keyed("@lat", Hist, e(HistValue{23: 1}, "vdb"), e(HistValue{12: 4}, "vda")), true)
	w.Heatmap(&Map{Name: "@lat", Kind: Hist}, false)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"type": "heatmap", "data": {"@lat": {"cells": [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "total": 6}}}
{"type": "heatmap", "data": {"@lat": {"vda": {"cells": [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "total": 4}, "vdb": {"cells": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "total": 1}}}}
{"type": "heatmap", "data": {"@lat": {"cells": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "total": 0}}}
`
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
