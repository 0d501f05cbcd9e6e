package output

import (
	"math"
	"reflect"
	"testing"
)

func TestRanges(t *testing.T) {
	for _, c := range []struct {
		name string
		m    *Map
		v    HistValue
		want []Range
	}{
		{"log2", &Map{Kind: Hist}, HistValue{0: 1, 1: 2, 3: 4},
			[]Range{{math.MinInt64, -1, 1}, {0, 0, 2}, {1, 1, 0}, {2, 3, 4}}},
		{"log2 top", &Map{Kind: Hist}, HistValue{64: 1, 65: 2},
			[]Range{{1 << 62, math.MaxInt64, 1}, {math.MaxInt64, math.MaxInt64, 2}}},
		{"linear", &Map{Kind: LHist, LMin: 0, LMax: 10, LStep: 5}, HistValue{1: 3, 3: 1},
			[]Range{{0, 4, 3}, {5, 9, 0}, {10, math.MaxInt64, 1}}},
		{"empty", &Map{Kind: Hist}, HistValue{}, []Range{}},
	} {
		if got := Ranges(c.m, c.v); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
