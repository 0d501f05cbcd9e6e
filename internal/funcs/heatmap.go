package funcs

import (
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// heatmap prints a log2 histogram of nanoseconds as one row of a latency
// heatmap each time it runs: called in an interval probe before clear(),
// its rows show how a distribution changes over time. Its event makes
// user space read the map and draw it (output.HeatmapRow); the second
// argument, known when the script compiles, chooses text shades over
// ANSI greys and reaches the plan as that argument's constant.
var heatmap = Func{
	Name: "heatmap", Min: 1, Max: 2,
	Doc: "prints a hist() map of nanoseconds as one row of a latency heatmap, 1us to 10s, in grey shades or, given true, in text: heatmap(@lat[, text])",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		if len(e.Args) == 2 {
			heatmapText(c, e.Args[1])
		}
		m, ok := e.Args[0].(*syntax.MapExpr)
		if !ok {
			c.Expr(e.Args[0])
			c.Errorf(e.Args[0].Span(), "arguments", "heatmap() draws a whole hist() map, such as @lat")
			return types.None
		}
		if m.Keys != nil {
			// One key's element is nothing heatmap() draws: only its keys are typed.
			for _, k := range m.Keys {
				c.Expr(k)
			}
			c.SetType(m, types.None)
			c.Errorf(m.Sp, "arguments", "heatmap() draws a whole hist() map, not one key's").
				Hint("heatmap(@%s) draws one row per key, each labelled with its key", m.Name)
			return types.None
		}
		shape, ok := c.Map(m)
		switch {
		case !ok:
		case shape.Kind == output.LHist:
			c.Errorf(m.Sp, "type", "heatmap() draws a log2 histogram, and @%s is an lhist()", m.Name).
				Hint("assign @%s = hist(NANOSECONDS): a heatmap's cells are powers of two", m.Name)
		case shape.Kind != output.Hist:
			c.Errorf(m.Sp, "type", "heatmap() draws a hist() map, and @%s is a %s map", m.Name, shape.Kind).
				Hint("assign a latency in nanoseconds, such as @%s = hist(nsecs - @start[tid])", m.Name)
		case shape.Bits != 0:
			c.Errorf(m.Sp, "type", "heatmap() draws hist() with one bucket per power of two, and @%s is hist(x, %d)", m.Name, shape.Bits).
				Hint("assign @%s = hist(x) without BITS", m.Name)
		}
		return types.None
	},
	Int: func(g Generator, e *syntax.CallExpr) { g.Event(e, true) },
}

// heatmapText checks heatmap()'s second argument, whether to shade in
// text: a flag the script's text decides, whose value it records.
func heatmapText(c Checker, arg syntax.Expr) {
	t, reported := c.ExprReported(arg)
	if reported {
		return
	}
	if !t.IsInt() {
		c.Errorf(arg.Span(), "type", "heatmap()'s text mode is true or false, not %s", t)
		return
	}
	v, ok := c.Fold(arg)
	n, isInt := v.(int64)
	if !ok || !isInt {
		c.Errorf(arg.Span(), "arguments", "heatmap()'s text mode must be known when the script compiles").
			Hint(`heatmap(@lat, getopt("text")) shades in text when the script runs with -- --text`)
		return
	}
	var on uint64
	if n != 0 {
		on = 1
	}
	c.SetConst(arg, on)
}
