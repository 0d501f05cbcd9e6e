// Package source owns script text and positions in it: files, byte offsets,
// spans, and diagnostics rendered with the source line and a caret. It
// imports nothing else of ebtrace, so every pass can report through it.
package source

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Pos is a byte offset into a File.
type Pos int

// Span is the half-open byte range [Start, End) of a node.
type Span struct {
	Start, End Pos
}

// Join returns the smallest span covering a and b.
func Join(a, b Span) Span {
	if b.Start < a.Start {
		a.Start = b.Start
	}
	if b.End > a.End {
		a.End = b.End
	}
	return a
}

// File is one script: its name as shown to users and its text.
type File struct {
	Name  string
	Text  string
	lines []int // byte offset of each line start
	// written, when set, is the script as its author wrote it, and Text
	// its preprocessed form, line for line; anchors (sorted by Out) map
	// Text's offsets back, so positions and the lines diagnostics show
	// are the author's.
	written *File
	anchors []Anchor
}

// Anchor ties a preprocessed text to the text as written: the bytes from
// Out on, up to the next anchor, come from the bytes from Written on, one
// for one; or, when Use is not 0, from the expansion of the macro use
// Written[:Use], to whose start they all map.
type Anchor struct {
	Out, Written Pos
	Use          int
}

// NewPreprocessed returns the file of text, the preprocessed form of
// written with the same lines, mapped back to it by anchors.
func NewPreprocessed(written *File, text string, anchors []Anchor) *File {
	// No line index: positions and lines are the written file's.
	return &File{Name: written.Name, Text: text, written: written, anchors: anchors}
}

// anchor returns the anchor that covers offset p of f's text.
func (f *File) anchor(p Pos) (Anchor, bool) {
	i := sort.Search(len(f.anchors), func(i int) bool { return f.anchors[i].Out > p }) - 1
	if i < 0 {
		return Anchor{}, false
	}
	return f.anchors[i], true
}

// Written returns sp as a span of the text the author wrote: a span in a
// macro's expansion becomes the macro's use. For a file that was not
// preprocessed it is sp.
func (f *File) Written(sp Span) Span {
	if f.written == nil {
		return sp
	}
	out := sp
	if a, ok := f.anchor(sp.Start); ok {
		out.Start = a.Written
		if a.Use == 0 {
			out.Start += sp.Start - a.Out
		}
	}
	out.End = out.Start + 1
	if a, ok := f.anchor(sp.End - 1); ok && sp.End > sp.Start {
		end := a.Written + Pos(a.Use)
		if a.Use == 0 {
			end = a.Written + sp.End - a.Out
		}
		out.End = max(end, out.Start+1)
	}
	return out
}

// NewFile indexes the line starts of text.
func NewFile(name, text string) *File {
	f := &File{Name: name, Text: text, lines: []int{0}}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	return f
}

// Position returns the 1-based line and column of p. Columns count bytes
// of the text as written.
func (f *File) Position(p Pos) (line, col int) {
	if f.written != nil {
		return f.written.Position(f.Written(Span{p, p + 1}).Start)
	}
	i := sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > int(p) }) - 1
	if i < 0 {
		i = 0
	}
	return i + 1, int(p) - f.lines[i] + 1
}

// Line returns the text of 1-based line n without its newline, as
// written.
func (f *File) Line(n int) string {
	if f.written != nil {
		return f.written.Line(n)
	}
	if n < 1 || n > len(f.lines) {
		return ""
	}
	start := f.lines[n-1]
	end := len(f.Text)
	if n < len(f.lines) {
		end = f.lines[n] - 1
	}
	return f.Text[start:end]
}

// Diagnostic is one problem in a script, tied to the span that caused it.
type Diagnostic struct {
	Span    Span
	Code    string // stable identifier, e.g. "syntax", "unknown-field"
	Message string
	Hints   []string
	// Warning marks a problem the script runs despite, such as a probe
	// skipped because it does not exist here.
	Warning bool
}

// Diagnostics is a list of problems; it satisfies error when non-empty.
type Diagnostics struct {
	File  *File
	Items []Diagnostic
}

// Add records a problem.
func (d *Diagnostics) Add(span Span, code, format string, args ...any) *Diagnostic {
	d.Items = append(d.Items, Diagnostic{Span: span, Code: code, Message: fmt.Sprintf(format, args...)})
	return &d.Items[len(d.Items)-1]
}

// Hint appends a hint to the diagnostic.
func (d *Diagnostic) Hint(format string, args ...any) *Diagnostic {
	d.Hints = append(d.Hints, fmt.Sprintf(format, args...))
	return d
}

// Err returns d as an error, or nil when it holds nothing.
func (d *Diagnostics) Err() error {
	if d == nil || len(d.Items) == 0 {
		return nil
	}
	return d
}

func (d *Diagnostics) Error() string {
	var b strings.Builder
	d.Render(&b)
	return strings.TrimRight(b.String(), "\n")
}

// maxRendered is how many diagnostics Render writes before it only counts
// the rest: past the first few, errors are mostly echoes of an earlier one,
// and thousands of them would bury the one that matters.
const maxRendered = 20

// Render writes the first maxRendered diagnostics as
//
//	FILE:LINE:COL: error: MESSAGE
//	    source line
//	    ^~~~
//	hint: ...
//
// and then, if there are more, one line that counts them. Items keeps
// them all.
func (d *Diagnostics) Render(w io.Writer) {
	for i, it := range d.Items {
		if i == maxRendered {
			more := len(d.Items) - maxRendered
			if more == 1 {
				fmt.Fprintln(w, "... and 1 more error")
			} else {
				fmt.Fprintf(w, "... and %d more errors\n", more)
			}
			return
		}
		RenderOne(w, d.File, it)
	}
}

// RenderOne writes one diagnostic against file f.
func RenderOne(w io.Writer, f *File, it Diagnostic) {
	sp := f.Written(it.Span)
	written := f
	if f.written != nil {
		written = f.written
	}
	line, col := written.Position(sp.Start)
	severity := "error"
	if it.Warning {
		severity = "warning"
	}
	fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", f.Name, line, col, severity, it.Message)
	text := f.Line(line)
	fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(text, "\t", " "))
	width := int(sp.End - sp.Start)
	if rest := len(text) - (col - 1); width > rest {
		width = rest
	}
	if width < 1 {
		width = 1
	}
	fmt.Fprintf(w, "    %s^%s\n", strings.Repeat(" ", col-1), strings.Repeat("~", width-1))
	for _, h := range it.Hints {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

// Closest returns up to max candidates closest to name by edit distance,
// nearest first; candidates further than a third of name's length are
// dropped unless they contain name.
func Closest(name string, candidates []string, max int) []string {
	type scored struct {
		s string
		d int
	}
	var out []scored
	limit := len(name)/3 + 1
	for _, c := range candidates {
		d := editDistance(name, c)
		if d <= limit || (len(name) >= 3 && strings.Contains(c, name)) {
			out = append(out, scored{c, d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].d != out[j].d {
			return out[i].d < out[j].d
		}
		return out[i].s < out[j].s
	})
	var names []string
	for i := 0; i < len(out) && i < max; i++ {
		names = append(names, out[i].s)
	}
	return names
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Count writes n of a noun for a message: "1 probe", "3 probes".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
