package filter

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestParse checks the trees Parse builds, precedence included.
func TestParse(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"common_pid == 1", "(== common_pid 1)"},
		{"a==1&&b!=2", "(&& (== a 1) (!= b 2))"},
		{"a == 1 || b == 2 && c == 3", "(|| (== a 1) (&& (== b 2) (== c 3)))"},
		{"(a == 1 || b == 2) && c == 3", "(&& (|| (== a 1) (== b 2)) (== c 3))"},
		{"a < 1 || b <= 2 || c > 3 || d >= 4", "(|| (|| (|| (< a 1) (<= b 2)) (> c 3)) (>= d 4))"},
		{"!a & 4", "(! (& a 4))"},
		{"!(a == 1) && !!b == 2", "(&& (! (== a 1)) (! (! (== b 2))))"},
		{`comm ~ "ba*" && name == 'x y'`, `(&& (~ comm "ba*") (== name "x y"))`},
		{`filename.ustring ~ "/tmp/*"`, `(~ filename.ustring "/tmp/*")`},
		{"call_site.function == do_exit", "(== call_site.function do_exit)"},
		{"x == -0x10", "(== x -0x10)"},
		{"\tx\n==\n7 ", "(== x 7)"},
	} {
		e, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.src, got, tc.want)
		}
	}
}

// TestSpans checks that a predicate's parts point at their text.
func TestSpans(t *testing.T) {
	src := `x == 1 && name.ustring ~ "a*"`
	e, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	p := e.Y
	text := func(s source.Span) string { return src[s.Start:s.End] }
	for _, c := range []struct{ got, want string }{
		{text(e.Span), src},
		{text(p.Span), `name.ustring ~ "a*"`},
		{text(p.FieldSpan), "name.ustring"},
		{text(p.OpSpan), "~"},
		{text(p.ValueSpan), `"a*"`},
	} {
		if c.got != c.want {
			t.Errorf("span %q, want %q", c.got, c.want)
		}
	}
}

// TestDiagnostics runs the chunks of testdata/errors.txt: each is an
// "# event CAT:NAME" line, a filter line, and the exact diagnostics that
// Parse or Compile print for it (carets and hints included). The events'
// formats are the real ones kerneltest.Fake embeds.
func TestDiagnostics(t *testing.T) {
	kallsyms = func() ([]kernel.KernelSymbol, error) {
		return []kernel.KernelSymbol{
			{Addr: 0xffffffff81000000, Type: 'T', Name: "do_exit"},
			{Addr: 0xffffffff81000100, Type: 'T', Name: "do_group_exit"},
		}, nil
	}
	t.Cleanup(func() { kallsyms = kernel.Kallsyms })
	chunks := testutil.Chunks(t, "testdata/errors.txt", "---")
	if len(chunks) < 20 {
		t.Errorf("errors.txt has %d cases, want at least 20", len(chunks))
	}
	events := kerneltest.Fake()
	for _, c := range chunks {
		lines := c.Lines
		for len(lines) > 0 && (lines[0] == "" || strings.HasPrefix(lines[0], "//")) {
			lines = lines[1:]
		}
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "# event ") {
			t.Fatalf("errors.txt:%d: want an '# event CAT:NAME' line and a filter", c.Line)
		}
		category, name, _ := strings.Cut(strings.TrimPrefix(lines[0], "# event "), ":")
		format, err := events.Format(category, name)
		if err != nil {
			t.Fatalf("errors.txt:%d: %v", c.Line, err)
		}
		src, want := lines[1], strings.Join(lines[2:], "\n")
		t.Run(fmt.Sprintf("line%d", c.Line), func(t *testing.T) {
			got := diagnose(src, format)
			if got != want {
				t.Errorf("errors.txt:%d: filter %q:\ngot:\n%s\nwant:\n%s", c.Line, src, got, want)
			}
		})
	}
}

// diagnose renders what Parse and Compile report for src, or "" when the
// filter compiles.
func diagnose(src string, format *kernel.Format) string {
	e, err := Parse(src)
	if err == nil {
		_, err = Compile(e, format, Options{})
	}
	if err == nil {
		return ""
	}
	var b bytes.Buffer
	err.(*source.Diagnostics).Render(&b)
	return strings.TrimRight(b.String(), "\n")
}

// FuzzParse checks that any text parses or fails with diagnostics whose
// spans lie inside it, and that whatever parses compiles or fails the same
// way against a real format, without panicking.
func FuzzParse(f *testing.F) {
	for _, c := range testutil.Chunks(f, "testdata/errors.txt", "---") {
		for _, l := range c.Lines {
			if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "filter:") && !strings.HasPrefix(l, "hint:") {
				f.Add(l)
			}
		}
	}
	f.Add(`(a == 1 || !(b ~ "[!a-z]*\*?"))`)
	f.Add(strings.Repeat("(", 200) + "a == 1")
	format, err := kerneltest.Fake().Format("syscalls", "sys_enter_openat")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err == nil {
			_, err = Compile(e, format, Options{})
		}
		if err == nil {
			return
		}
		d, ok := err.(*source.Diagnostics)
		if !ok {
			t.Fatalf("%q: error is %T, not diagnostics", src, err)
		}
		for _, it := range d.Items {
			if it.Span.Start < 0 || int(it.Span.End) > len(src) || it.Span.Start > it.Span.End {
				t.Fatalf("%q: span %v outside the text", src, it.Span)
			}
		}
	})
}
