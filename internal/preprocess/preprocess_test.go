package preprocess

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// testOptions leave BPFTRACE_HAVE_BTF defined whatever the machine, so
// the expectations are fixed.
var testOptions = Options{
	Defines:    map[string]string{"BPFTRACE_HAVE_BTF": "1"},
	SystemDirs: []string{"/usr/include", "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu"},
}

// split cuts a chunk at its "---" line into the script and what is expected.
func split(t *testing.T, c testutil.Chunk) (script, want string) {
	t.Helper()
	for i, l := range c.Lines {
		if l == "---" {
			return strings.Join(c.Lines[:i], "\n") + "\n", strings.Join(c.Lines[i+1:], "\n") + "\n"
		}
	}
	t.Fatalf("chunk at line %d has no --- line", c.Line)
	return "", ""
}

// TestExpand checks each chunk of expand.txt: the script above --- comes
// out as the text below it, line for line.
func TestExpand(t *testing.T) {
	for _, c := range testutil.Chunks(t, "testdata/expand.txt", "===") {
		t.Run(fmt.Sprintf("line%d", c.Line), func(t *testing.T) {
			script, want := split(t, c)
			if strings.Contains(script, "<sys/socket.h>") && !headerInstalled("sys/socket.h") {
				t.Skip("no sys/socket.h in the system include directories")
			}
			f, err := Run(source.NewFile("test.bt", script), testOptions)
			if err != nil {
				t.Fatalf("expand.txt:%d: %v", c.Line, err)
			}
			if f.Text != want {
				t.Errorf("expand.txt:%d: got\n%s\nwant\n%s", c.Line, f.Text, want)
			}
			if strings.Count(f.Text, "\n") != strings.Count(script, "\n") {
				t.Errorf("expand.txt:%d: %d lines out of %d", c.Line, strings.Count(f.Text, "\n"), strings.Count(script, "\n"))
			}
		})
	}
}

func headerInstalled(name string) bool {
	for _, dir := range testOptions.SystemDirs {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// TestErrors checks each chunk of errors.txt renders exactly the
// diagnostics below its --- line.
func TestErrors(t *testing.T) {
	for _, c := range testutil.Chunks(t, "testdata/errors.txt", "===") {
		script, want := split(t, c)
		in := source.NewFile("test.bt", script)
		_, err := Run(in, testOptions)
		var diags *source.Diagnostics
		if !errors.As(err, &diags) {
			t.Errorf("errors.txt:%d: got %v, want diagnostics", c.Line, err)
			continue
		}
		if diags.File != in {
			t.Errorf("errors.txt:%d: diagnostics are not against the script", c.Line)
		}
		var b strings.Builder
		diags.Render(&b)
		if b.String() != want {
			t.Errorf("errors.txt:%d: got\n%s\nwant\n%s", c.Line, b.String(), want)
		}
	}
}

// TestPredefined checks BPFTRACE_HAVE_BTF follows the kernel's BTF.
func TestPredefined(t *testing.T) {
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	_, defined := Predefined()["BPFTRACE_HAVE_BTF"]
	if defined != (err == nil) {
		t.Errorf("BPFTRACE_HAVE_BTF defined: %v; /sys/kernel/btf/vmlinux: %v", defined, err)
	}
}

// FuzzRun checks that any text preprocesses without a panic, keeps its
// line count when it succeeds, and reports errors inside the script.
func FuzzRun(f *testing.F) {
	for _, seed := range []string{
		"#define N 1\nBEGIN { @ = N; }\n",
		"#define F(a, b) a ## b #a\nF(x, y) F(1,\n2) F(\n",
		"#if defined(X) || (1 ? 2 : 3) << 2\n#elif\n#else\n#endif\n",
		"/* #if\n*/ \"#x\" 'a' $F @F F\n#define F() F\nF() F",
		"#ifdef\n#ifndef A B\n#if 1 / 0\n#error x\n#pragma\n#endif",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		in := source.NewFile("fuzz.bt", text)
		out, err := Run(in, Options{Defines: map[string]string{"BPFTRACE_HAVE_BTF": "1"}})
		var diags *source.Diagnostics
		switch {
		case errors.As(err, &diags):
			for _, d := range diags.Items {
				if d.Span.Start < 0 || d.Span.End < d.Span.Start || int(d.Span.End) > len(text) {
					t.Fatalf("span %v outside the %d-byte script", d.Span, len(text))
				}
			}
		case err != nil:
			t.Fatal(err)
		case strings.Count(out.Text, "\n") != strings.Count(text, "\n"):
			t.Fatalf("%d lines became %d:\n%s", strings.Count(text, "\n"), strings.Count(out.Text, "\n"), out.Text)
		default:
			for i := range len(out.Text) {
				sp := out.Written(source.Span{Start: source.Pos(i), End: source.Pos(i + 1)})
				if sp.Start < 0 || sp.End <= sp.Start || int(sp.Start) > len(text) || int(sp.End) > len(text)+1 {
					t.Fatalf("output offset %d maps to %v, outside the %d-byte script", i, sp, len(text))
				}
			}
		}
	})
}

// TestWritten checks that the output's offsets map back to the script as
// written: text outside expansions to itself, an expansion to the macro's
// use, and lines to their own numbers.
func TestWritten(t *testing.T) {
	script := "#define BAD foo(1)\n#define F(a) (a + 1)\nBEGIN { @x = BAD + F(\n  2) + $y; }\n"
	in := source.NewFile("test.bt", script)
	out, err := Run(in, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ out, written string }{
		{"foo", "BAD"},
		{"(1)", "BAD"},
		{"(2 + 1)", "F(\n  2)"},
		{"$y", "$y"},
		{"@x", "@x"},
	} {
		i := strings.Index(out.Text, c.out)
		if i < 0 {
			t.Fatalf("no %q in\n%s", c.out, out.Text)
		}
		sp := out.Written(source.Span{Start: source.Pos(i), End: source.Pos(i + len(c.out))})
		if got := script[sp.Start:sp.End]; got != c.written {
			t.Errorf("%q maps to %q, want %q", c.out, got, c.written)
		}
		line, _ := out.Position(source.Pos(i))
		if wantLine, _ := in.Position(sp.Start); line != wantLine {
			t.Errorf("%q is on line %d, want %d", c.out, line, wantLine)
		}
	}
}

// TestIncludeAbsolute includes a header by its absolute path and by a
// path relative to the script's directory.
func TestIncludeAbsolute(t *testing.T) {
	dir := t.TempDir()
	header := filepath.Join(dir, "limits.h")
	if err := os.WriteFile(header, []byte("#define LIMIT 42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ script, name string }{
		{"#include \"" + header + "\"\nLIMIT\n", "stdin"},
		{"#include \"limits.h\"\nLIMIT\n", filepath.Join(dir, "script.bt")},
	} {
		f, err := Run(source.NewFile(c.name, c.script), testOptions)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(f.Text); len(got) == 0 || got[len(got)-1] != "42" {
			t.Errorf("%q in %s: got %q", c.script, c.name, f.Text)
		}
	}
	if got := includeDirs("x.h", false, "stdin", nil); !slices.Equal(got, []string{"."}) {
		t.Errorf("includeDirs of stdin = %q, want [.]", got)
	}
}
