// Package flame owns turning stack samples into the formats flame graph
// tools read: folded text (flamegraph.pl, inferno, speedscope), a
// self-contained interactive SVG flame graph, and pprof profiles. It knows
// nothing of tracing: a sample is a list of frame names and a count.
package flame

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Sample is one stack and how many times it was seen.
type Sample struct {
	Frames []string // root first
	Value  uint64
}

// merge returns the distinct stacks with their values summed, in the
// order of first appearance. Samples with no frames or a zero value are
// dropped: they have nothing to draw.
func merge(samples []Sample) []Sample {
	index := map[string]int{}
	var out []Sample
	for _, s := range samples {
		if len(s.Frames) == 0 || s.Value == 0 {
			continue
		}
		key := strings.Join(s.Frames, "\x00")
		if i, ok := index[key]; ok {
			out[i].Value += s.Value
			continue
		}
		index[key] = len(out)
		out = append(out, Sample{Frames: s.Frames, Value: s.Value})
	}
	return out
}

// foldedName makes a frame name safe for the folded format, where ';'
// separates frames and a line is one stack.
var foldedName = strings.NewReplacer(";", ":", "\n", " ", "\r", " ").Replace

// Folded writes the samples in the folded format: one line per distinct
// stack, "root;child;leaf COUNT", sorted by stack.
func Folded(w io.Writer, samples []Sample) error {
	type line struct {
		stack string
		value uint64
	}
	var lines []line
	index := map[string]int{}
	for _, s := range merge(samples) {
		names := make([]string, len(s.Frames))
		for i, f := range s.Frames {
			names[i] = foldedName(f)
		}
		// Distinct frames may fold to one name ("a;b" and "a:b").
		stack := strings.Join(names, ";")
		if i, ok := index[stack]; ok {
			lines[i].value += s.Value
			continue
		}
		index[stack] = len(lines)
		lines = append(lines, line{stack, s.Value})
	}
	slices.SortFunc(lines, func(a, b line) int { return cmp.Compare(a.stack, b.stack) })
	bw := bufio.NewWriter(w)
	for _, l := range lines {
		fmt.Fprintf(bw, "%s %d\n", l.stack, l.value)
	}
	return bw.Flush()
}
