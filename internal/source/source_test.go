package source_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/source"
)

// diagnostics returns n errors, one on each line of a script of n lines.
func diagnostics(n int) *source.Diagnostics {
	var text strings.Builder
	var spans []source.Span
	for i := range n {
		start := source.Pos(text.Len())
		fmt.Fprintf(&text, "x%d\n", i)
		spans = append(spans, source.Span{Start: start, End: source.Pos(text.Len() - 1)})
	}
	d := &source.Diagnostics{File: source.NewFile("many.bt", text.String())}
	for i, sp := range spans {
		d.Add(sp, "test", "error %d", i)
	}
	return d
}

func TestRenderCapsErrors(t *testing.T) {
	for _, tc := range []struct {
		errors   int
		rendered int    // errors written in full
		last     string // the line after them, "" when none
	}{
		{3000, 20, "... and 2980 more errors"},
		{21, 20, "... and 1 more error"},
		{20, 20, ""},
		{1, 1, ""},
	} {
		d := diagnostics(tc.errors)
		var got, want strings.Builder
		d.Render(&got)
		for _, it := range d.Items[:tc.rendered] {
			source.RenderOne(&want, d.File, it)
		}
		if tc.last != "" {
			want.WriteString(tc.last + "\n")
		}
		if got.String() != want.String() {
			t.Errorf("%d errors rendered as:\n%s\nwant:\n%s", tc.errors, got.String(), want.String())
		}
		if n := strings.Count(got.String(), ": error: "); n != tc.rendered {
			t.Errorf("%d errors: %d rendered, want %d", tc.errors, n, tc.rendered)
		}
		if len(d.Items) != tc.errors {
			t.Errorf("%d errors: Items holds %d after Render", tc.errors, len(d.Items))
		}
	}
}
