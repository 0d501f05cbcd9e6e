package testutil

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Update makes Golden rewrite golden files instead of comparing with them:
// go test ./... -update.
var Update = flag.Bool("update", false, "rewrite golden files")

// Golden compares got with the golden file at path, conventionally
// "testdata/NAME.golden" relative to the test's package directory. Under
// -update it writes got to path instead, creating directories as needed. On a
// mismatch the test fails with a line diff: "-" lines are the golden file's,
// "+" lines are got's.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v (run with -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	t.Errorf("output differs from %s (run with -update to accept it):\n%s", path, Diff(path, "got", want, got))
}

// diffContext is how many unchanged lines Diff shows around each change.
const diffContext = 3

// diffCells bounds the line-pair table Diff builds; past it, the changed
// middle is shown as a whole removal and insertion.
const diffCells = 4 << 20

// Diff returns a unified-style line diff turning a (named aName) into b
// (named bName), or "" when they are equal. A missing final newline on either
// side is noted, since it is a difference the lines alone would hide.
func Diff(aName, bName string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	ops := diffLines(x, y)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", aName, bName)
	writeHunks(&sb, ops)
	if endsNL(a) != endsNL(b) {
		for _, side := range []struct {
			name string
			text []byte
		}{{aName, a}, {bName, b}} {
			if len(side.text) > 0 && !endsNL(side.text) {
				fmt.Fprintf(&sb, "\\ no newline at end of %s\n", side.name)
			}
		}
	}
	return sb.String()
}

func endsNL(b []byte) bool { return len(b) > 0 && b[len(b)-1] == '\n' }

func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// op is one line of an edit script: kind is ' ', '-' or '+'.
type op struct {
	kind         byte
	line         string
	aLine, bLine int // 1-based line numbers in a and b where this op starts
}

// diffLines returns an edit script from x to y: common prefix and suffix are
// kept as is and the middle is aligned by longest common subsequence.
func diffLines(x, y []string) []op {
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	var ops []op
	i, j := 0, 0
	emit := func(kind byte, line string) {
		ops = append(ops, op{kind: kind, line: line, aLine: i + 1, bLine: j + 1})
		switch kind {
		case ' ':
			i++
			j++
		case '-':
			i++
		case '+':
			j++
		}
	}
	for _, l := range x[:pre] {
		emit(' ', l)
	}
	if len(mx)*len(my) > diffCells {
		for _, l := range mx {
			emit('-', l)
		}
		for _, l := range my {
			emit('+', l)
		}
	} else {
		// lcs[p][q] is the LCS length of mx[p:] and my[q:].
		lcs := make([][]int, len(mx)+1)
		for p := range lcs {
			lcs[p] = make([]int, len(my)+1)
		}
		for p := len(mx) - 1; p >= 0; p-- {
			for q := len(my) - 1; q >= 0; q-- {
				if mx[p] == my[q] {
					lcs[p][q] = lcs[p+1][q+1] + 1
				} else {
					lcs[p][q] = max(lcs[p+1][q], lcs[p][q+1])
				}
			}
		}
		p, q := 0, 0
		for p < len(mx) || q < len(my) {
			switch {
			case p < len(mx) && q < len(my) && mx[p] == my[q]:
				emit(' ', mx[p])
				p++
				q++
			case q == len(my) || (p < len(mx) && lcs[p+1][q] >= lcs[p][q+1]):
				emit('-', mx[p])
				p++
			default:
				emit('+', my[q])
				q++
			}
		}
	}
	for _, l := range x[len(x)-suf:] {
		emit(' ', l)
	}
	return ops
}

// writeHunks prints the changed ops with diffContext lines of context,
// grouped into hunks headed "@@ -A +B @@" with the starting line numbers.
func writeHunks(sb *strings.Builder, ops []op) {
	for start := 0; start < len(ops); {
		first := start
		for first < len(ops) && ops[first].kind == ' ' {
			first++
		}
		if first == len(ops) {
			return
		}
		lo := max(first-diffContext, start)
		hi := first
		for end := first; end < len(ops); end++ {
			if ops[end].kind != ' ' {
				hi = end
				continue
			}
			if end-hi > 2*diffContext {
				break
			}
		}
		hi = min(hi+diffContext+1, len(ops))
		fmt.Fprintf(sb, "@@ -%d +%d @@\n", ops[lo].aLine, ops[lo].bLine)
		for _, o := range ops[lo:hi] {
			sb.WriteByte(o.kind)
			sb.WriteString(o.line)
			sb.WriteByte('\n')
		}
		start = hi
	}
}
