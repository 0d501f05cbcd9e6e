package main

import (
	"os"
	"strings"
	"testing"
)

// TestPreprocessBTFBranch runs the conditional bpftrace's tools open with:
// the #else branch runs where the kernel offers BTF, the other elsewhere.
func TestPreprocessBTFBranch(t *testing.T) {
	want := "with BTF\n\n\n"
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		want = "without BTF\n\n\n"
	}
	r := runCLI(t, "-e", `#ifndef BPFTRACE_HAVE_BTF
BEGIN { printf("without BTF\n"); exit(); }
#else
BEGIN { printf("with BTF\n"); exit(); }
#endif
`)
	r.want(t, 0, want)
}

// TestPreprocessMacros uses an object-like and a function-like macro in a
// probe body.
func TestPreprocessMacros(t *testing.T) {
	r := runCLI(t, "-e", `#define N 3
#define SQUARE(x) ((x) * (x))
BEGIN { printf("%d %d\n", N, SQUARE(N + 1)); exit(); }
`)
	r.want(t, 0, "3 16\n\n\n")
}

// TestPreprocessErrorLines checks that a syntax error below directives and
// in a line a macro expanded is reported on the script's own line, and
// that a preprocessor error points at the directive.
func TestPreprocessErrorLines(t *testing.T) {
	r := runCLI(t, "-e", `#define N 3
#ifdef N
#define PLUS(a) (a + N)
#endif

BEGIN { @x = PLUS(1) +; }
`)
	r.want(t, 1, "")
	if want := "stdin:6:23: error: expected an expression, found ';'\n" +
		"    BEGIN { @x = PLUS(1) +; }\n" +
		"                          ^\n"; r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	// An error inside an expansion points at the macro's use, as written.
	r = runCLI(t, "-e", "#define F(a) (a + $unset)\nBEGIN { @x = 1 + F(\n  2); }\n")
	r.want(t, 1, "")
	if want := "stdin:2:18: error: variable $unset is used before it is assigned\n" +
		"    BEGIN { @x = 1 + F(\n" +
		"                     ^~\n"; r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	r = runCLI(t, "-e", "BEGIN { exit(); }\n#if 1\n")
	r.want(t, 1, "")
	if want := "stdin:2:1: error: unterminated conditional"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = runCLI(t, "-e", "BEGIN { exit(); }\n#if 0\n#else\n#error \"stop here\"\n#endif\n")
	r.want(t, 1, "")
	if want := "stdin:4:1: error: #error stop here\n    #error \"stop here\"\n    ^~~~~~~~~~~~~~~~~~\n"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr:\n%s\nwant prefix:\n%s", r.stderr, want)
	}
}
