package syntax

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// parseCase is a chunk of parse.txt: source, a "---" line, expected dump.
type parseCase struct {
	line      int
	src, want string
}

func parseCases(t testing.TB) []parseCase {
	var cases []parseCase
	for _, c := range testutil.Chunks(t, "testdata/parse.txt", "===") {
		i := 0
		for i < len(c.Lines) && c.Lines[i] != "---" {
			i++
		}
		if i == len(c.Lines) {
			t.Fatalf("parse.txt:%d: case without a --- line", c.Line)
		}
		pc := parseCase{line: c.Line, src: strings.Join(c.Lines[:i], "\n") + "\n"}
		if want := c.Lines[i+1:]; len(want) > 0 {
			pc.want = strings.Join(want, "\n") + "\n"
		}
		cases = append(cases, pc)
	}
	return cases
}

func TestParse(t *testing.T) {
	cases := parseCases(t)
	var out strings.Builder
	for i, c := range cases {
		got := c.want
		prog, err := Parse(source.NewFile("test", c.src))
		if err != nil {
			t.Errorf("parse.txt:%d: %v", c.line, err)
		} else {
			got = Dump(prog)
			if !*testutil.Update && got != c.want {
				t.Errorf("parse.txt:%d: %s\ngot:\n%swant:\n%s", c.line, c.src, got, c.want)
			}
		}
		if i > 0 {
			out.WriteString("===\n")
		}
		out.WriteString(c.src + "---\n" + got)
	}
	if *testutil.Update {
		if err := os.WriteFile("testdata/parse.txt", []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// wantRE matches the expectation comment of an error test line.
var wantRE = regexp.MustCompile(`(?m)[ \t]*###(.*)$`)

// quotedRE matches one Go-quoted regexp, "..." or `...`.
var quotedRE = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`")

// TestErrors checks that each chunk of errors.txt reports errors exactly on
// the lines carrying a ### "regexp" comment, with messages matching it.
func TestErrors(t *testing.T) {
	for _, c := range testutil.Chunks(t, "testdata/errors.txt", "===") {
		wants := map[int][]*regexp.Regexp{}
		lines := make([]string, len(c.Lines))
		for i, l := range c.Lines {
			lines[i] = l
			m := wantRE.FindStringSubmatchIndex(l)
			if m == nil {
				continue
			}
			lines[i] = l[:m[0]]
			for _, q := range quotedRE.FindAllString(l[m[2]:m[3]], -1) {
				s, err := strconv.Unquote(q)
				if err != nil {
					t.Fatalf("errors.txt:%d: %v", c.Line+i, err)
				}
				wants[i+1] = append(wants[i+1], regexp.MustCompile(s))
			}
		}
		f := source.NewFile("test", strings.Join(lines, "\n"))
		_, err := Parse(f)
		if len(wants) == 0 {
			if err != nil {
				t.Errorf("errors.txt:%d: unexpected error: %v", c.Line, err)
			}
			continue
		}
		var diags *source.Diagnostics
		if !errors.As(err, &diags) {
			t.Errorf("errors.txt:%d: got %v, want *source.Diagnostics", c.Line, err)
			continue
		}
		if diags.File != f {
			t.Errorf("errors.txt:%d: Diagnostics.File is not the parsed file", c.Line)
		}
		matched := map[int]bool{}
		for _, d := range diags.Items {
			line, _ := f.Position(d.Span.Start)
			if d.Code != "syntax" {
				t.Errorf("errors.txt:%d: code %q, want syntax", c.Line+line-1, d.Code)
			}
			if d.Span.Start < 0 || d.Span.End < d.Span.Start || int(d.Span.End) > len(f.Text) {
				t.Errorf("errors.txt:%d: span %v outside the file", c.Line+line-1, d.Span)
			}
			ok := false
			for _, re := range wants[line] {
				ok = ok || re.MatchString(d.Message)
			}
			if !ok {
				t.Errorf("errors.txt:%d: unexpected error: %s", c.Line+line-1, d.Message)
			}
			matched[line] = matched[line] || ok
		}
		for line, res := range wants {
			if !matched[line] {
				t.Errorf("errors.txt:%d: no error matching %v; got:\n%v", c.Line+line-1, res, err)
			}
		}
	}
}

func TestRender(t *testing.T) {
	_, err := Parse(source.NewFile("stdin", "BEGIN { printf(\"hi\\q\"); }\n"))
	want := `stdin:1:19: error: unknown escape sequence "\\q"
    BEGIN { printf("hi\q"); }
                      ^~
hint: valid escapes are \n \t \r \\ \" \xNN and octal \NNN
`
	var d *source.Diagnostics
	if !errors.As(err, &d) {
		t.Fatalf("Parse: %v, want diagnostics", err)
	}
	var b strings.Builder
	d.Render(&b)
	if b.String() != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", b.String(), want)
	}

	_, err = Parse(source.NewFile("stdin", "BEGIN { @x = 1 +; }"))
	want = "stdin:1:17: error: expected an expression, found ';'\n" +
		"    BEGIN { @x = 1 +; }\n" +
		"                    ^"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestSpans checks the source text each node's span covers.
func TestSpans(t *testing.T) {
	src := `kprobe:f, kprobe:g /-(pid) > 0/ {
	if ($x) { @m[1, "a"] = strlen(str(arg0)); } else if (1) { } else { ($y)++; }
	$z = ~args->p.q ? @ : ++@n;
	{ @a += (1 + 2) * 3 }
}`
	f := source.NewFile("test", src)
	prog, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Inspect(prog, func(n Node) bool {
		if n != nil {
			sp := n.Span()
			got = append(got, fmt.Sprintf("%T %s", n, f.Text[sp.Start:sp.End]))
		}
		return true
	})
	want := []string{
		"*syntax.Program " + src,
		"*syntax.Probe " + src,
		"*syntax.AttachPoint kprobe:f",
		"*syntax.AttachPoint kprobe:g",
		"*syntax.BinaryExpr -(pid) > 0",
		"*syntax.UnaryExpr -(pid)",
		"*syntax.Ident pid",
		"*syntax.IntLit 0",
		"*syntax.Block " + src[strings.Index(src, "{"):],
		`*syntax.IfStmt if ($x) { @m[1, "a"] = strlen(str(arg0)); } else if (1) { } else { ($y)++; }`,
		"*syntax.VarExpr $x",
		`*syntax.Block { @m[1, "a"] = strlen(str(arg0)); }`,
		`*syntax.AssignStmt @m[1, "a"] = strlen(str(arg0))`,
		`*syntax.MapExpr @m[1, "a"]`,
		"*syntax.IntLit 1",
		`*syntax.StringLit "a"`,
		"*syntax.CallExpr strlen(str(arg0))",
		"*syntax.CallExpr str(arg0)",
		"*syntax.Ident arg0",
		"*syntax.IfStmt if (1) { } else { ($y)++; }",
		"*syntax.IntLit 1",
		"*syntax.Block { }",
		"*syntax.Block { ($y)++; }",
		"*syntax.ExprStmt ($y)++",
		"*syntax.IncDecExpr ($y)++",
		"*syntax.VarExpr $y",
		"*syntax.AssignStmt $z = ~args->p.q ? @ : ++@n",
		"*syntax.VarExpr $z",
		"*syntax.CondExpr ~args->p.q ? @ : ++@n",
		"*syntax.UnaryExpr ~args->p.q",
		"*syntax.FieldExpr args->p.q",
		"*syntax.FieldExpr args->p",
		"*syntax.Ident args",
		"*syntax.MapExpr @",
		"*syntax.IncDecExpr ++@n",
		"*syntax.MapExpr @n",
		"*syntax.Block { @a += (1 + 2) * 3 }",
		"*syntax.AssignStmt @a += (1 + 2) * 3",
		"*syntax.MapExpr @a",
		// Parentheses have no node, so a binary expression's span starts at
		// its left operand's.
		"*syntax.BinaryExpr 1 + 2) * 3",
		"*syntax.BinaryExpr 1 + 2",
		"*syntax.IntLit 1",
		"*syntax.IntLit 2",
		"*syntax.IntLit 3",
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("spans:\n%s", testutil.Diff("want", "got", []byte(w+"\n"), []byte(g+"\n")))
	}

	var ops []string
	Inspect(prog, func(n Node) bool {
		switch n := n.(type) {
		case *BinaryExpr:
			ops = append(ops, f.Text[n.OpSp.Start:n.OpSp.End])
		case *AssignStmt:
			ops = append(ops, f.Text[n.OpSp.Start:n.OpSp.End])
		case *CallExpr:
			ops = append(ops, f.Text[n.FunSp.Start:n.FunSp.End])
		case *FieldExpr:
			ops = append(ops, f.Text[n.NameSp.Start:n.NameSp.End])
		}
		return true
	})
	if g, w := strings.Join(ops, " "), "> = strlen str = q p += * +"; g != w {
		t.Errorf("operator spans: %q, want %q", g, w)
	}
}

func TestInspectPrune(t *testing.T) {
	prog, err := Parse(source.NewFile("test", "BEGIN { @x = 1 + 2; if (pid) { exit(); } }"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	nils := 0
	Inspect(prog, func(n Node) bool {
		if n == nil {
			nils++
			return true
		}
		kinds = append(kinds, strings.TrimPrefix(fmt.Sprintf("%T", n), "*syntax."))
		_, isAssign := n.(*AssignStmt)
		return !isAssign
	})
	want := "Program Probe AttachPoint Block AssignStmt IfStmt Ident Block ExprStmt CallExpr"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("visited %s\nwant    %s", got, want)
	}
	if nils != len(kinds)-1 {
		t.Errorf("%d calls with nil for %d entered nodes", nils, len(kinds)-1)
	}
}

func TestDeepNesting(t *testing.T) {
	for _, src := range []string{
		"BEGIN { $x = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "; }",
		"BEGIN { $x = " + strings.Repeat("-", 100000) + "1; }",
		"BEGIN " + strings.Repeat("{", 100000) + strings.Repeat("}", 100000),
		"BEGIN { $x = " + strings.Repeat("1 ? 2 : ", 100000) + "3; }",
	} {
		_, err := Parse(source.NewFile("test", src))
		var d *source.Diagnostics
		if !errors.As(err, &d) || len(d.Items) == 0 || !strings.HasPrefix(d.Items[0].Message, "nesting is deeper than") {
			t.Errorf("Parse(%.30q...) = %.200v, want a nesting diagnostic first", src, err)
		}
	}
	src := "BEGIN { $x = " + strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100) + "; }"
	if _, err := Parse(source.NewFile("test", src)); err != nil {
		t.Errorf("100 parentheses: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range parseCases(f) {
		f.Add(c.src)
	}
	for _, c := range testutil.Chunks(f, "testdata/errors.txt", "===") {
		f.Add(wantRE.ReplaceAllString(strings.Join(c.Lines, "\n"), ""))
	}
	f.Fuzz(func(t *testing.T, src string) {
		file := source.NewFile("fuzz", src)
		prog, err := Parse(file)
		if err != nil {
			var d *source.Diagnostics
			if !errors.As(err, &d) || len(d.Items) == 0 {
				t.Fatalf("error %v is not a non-empty *source.Diagnostics", err)
			}
			for _, it := range d.Items {
				if it.Span.Start < 0 || it.Span.End < it.Span.Start || int(it.Span.End) > len(src) {
					t.Fatalf("error span %v outside [0, %d]: %s", it.Span, len(src), it.Message)
				}
			}
			_ = err.Error()
			return
		}
		checkSpans(t, file, prog)
		if a, b := Dump(prog), Dump(prog); a != b {
			t.Fatalf("Dump is not deterministic:\n%s\n%s", a, b)
		}
	})
}

// checkSpans asserts that every node's span lies within the file and within
// its parent's span. Nodes copied from a macro's body keep the body's
// spans, and an expression passed to a macro keeps the caller's, so with
// macros a node's span may straddle the two: only the bounds are checked.
func checkSpans(t *testing.T, f *source.File, prog *Program) {
	expanded := len(prog.Macros) > 0
	var stack []source.Span
	Inspect(prog, func(n Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		sp := n.Span()
		if sp.Start < 0 || sp.End < sp.Start || int(sp.End) > len(f.Text) {
			t.Fatalf("%T span %v outside [0, %d]", n, sp, len(f.Text))
		}
		if len(stack) > 0 {
			if up := stack[len(stack)-1]; (sp.Start < up.Start || sp.End > up.End) && !expanded {
				t.Fatalf("%T span %v outside its parent's %v", n, sp, up)
			}
		}
		switch n := n.(type) {
		case *Ident:
			if f.Text[sp.Start:sp.End] != n.Name {
				t.Fatalf("Ident %q spans %q", n.Name, f.Text[sp.Start:sp.End])
			}
		case *VarExpr:
			if f.Text[sp.Start:sp.End] != "$"+n.Name && !expanded {
				t.Fatalf("VarExpr %q spans %q", n.Name, f.Text[sp.Start:sp.End])
			}
		case *AttachPoint:
			if f.Text[sp.Start:sp.End] != n.Raw {
				t.Fatalf("AttachPoint %q spans %q", n.Raw, f.Text[sp.Start:sp.End])
			}
		}
		stack = append(stack, sp)
		return true
	})
}

func TestParseHeader(t *testing.T) {
	header := `/* a header with more than struct definitions */
#ifndef HDR_H
#define HDR_H \
	1
#include <stddef.h>
typedef unsigned int u32_t;
struct fwd;
struct ok { int a; char b[4]; struct fwd *f; };
int prototype(struct ok *o);
static inline int body(int x) { if (x) { return 1; } return 0; }
struct callbacks { void (*fn)(int); int after; };
enum color { RED, GREEN };
union pair { int i; long l; };
struct nest { struct in { int a; } i; void (*cb)(void); };
struct nest2 { union { struct in2 { int b; } x; }; };
#endif
`
	var got []string
	for _, d := range ParseHeader(source.NewFile("hdr.h", header)) {
		var b strings.Builder
		dump(&b, d)
		got = append(got, b.String())
	}
	want := []string{
		`(struct ok ("int" a) ("char" b[4]) ("struct fwd*" f))`,
		`(union pair ("int" i) ("long" l))`,
		`(struct nest2 (union (struct in2 x ("int" b))))`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
