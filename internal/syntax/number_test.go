package syntax

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/source"
)

// TestIntLiteralErrors checks where each malformed literal's diagnostic
// points: the caret line under `BEGIN { @x = LITERAL; }`.
func TestIntLiteralErrors(t *testing.T) {
	for _, tc := range []struct{ lit, caret string }{
		{"1e", "^~"},
		{"1__0", " ^~"},
		{"1_", " ^"},
		{"0x", "^~"},
		{"0x_1", "  ^"},
		{"12abc", "  ^~~"},
		{"0x1fz", "    ^"},
		{"0789", "  ^"},
		{"0x10ms", "    ^~"},
		{"1e-3", "^~~~"},
		{"2e20", "^~~~"},
		{"4294967296u", "^~~~~~~~~~~"},
		{"300000d", "^~~~~~~"},
	} {
		src := "BEGIN { @x = " + tc.lit + "; }"
		_, err := Parse(source.NewFile("t", src))
		var d *source.Diagnostics
		if !errors.As(err, &d) || len(d.Items) != 1 {
			t.Errorf("%s: got %v, want one diagnostic", tc.lit, err)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if want := strings.Repeat(" ", 4+len("BEGIN { @x = ")) + tc.caret; len(lines) < 3 || lines[2] != want {
			t.Errorf("%s: caret line\n%q, want\n%q\n%v", tc.lit, lines[min(2, len(lines)-1)], want, err)
		}
	}
}

// FuzzIntLiteral checks the literal decoder against Go's own integer
// syntax where the two agree (decimal, octal and hex without suffixes),
// and that a suffix keeps the value and a duration multiplies it.
func FuzzIntLiteral(f *testing.F) {
	for _, s := range []string{"0", "1e6", "1_000", "0x1f", "0755", "2.5e3", "1e-3", "10ms", "1ull", "0xffff_ffffU", "1__0", "12abc", "1.5", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if text == "" || !isDigit(text[0]) {
			return // the scanner starts a literal only at a digit
		}
		v, err := intLiteral(text)
		if err != nil && (err.from < 0 || err.to <= err.from || err.to > len(text) || err.msg == "" || err.hint == "") {
			t.Fatalf("%q: error %+v", text, err)
		}
		// Go's syntax for these is the same, but for Go's '_' right after
		// 0x, which C's style does not have.
		decimal := strings.Trim(text, "0123456789_") == ""
		hex := len(text) > 2 && (text[1] == 'x' || text[1] == 'X') && strings.Trim(text[2:], "0123456789abcdefABCDEF_") == ""
		if decimal || hex {
			want, gerr := strconv.ParseUint(text, 0, 64)
			switch {
			case err == nil && (gerr != nil || want != v):
				t.Fatalf("%q = %d, Go says %d, %v", text, v, want, gerr)
			case err != nil && decimal && gerr == nil:
				t.Fatalf("%q: %s, Go says %d", text, err.msg, want)
			}
		}
		if err != nil || !decimal {
			return // the suffix checks below append to a decimal literal
		}
		if got, err := intLiteral(text + "ul"); err != nil || got != v {
			t.Fatalf("%q = %d but %qul = %d, %v", text, v, text, got, err)
		}
		if len(strings.ReplaceAll(text, "_", "")) > 1 && text[0] == '0' {
			return // octal, which takes no duration
		}
		hi, lo := bits.Mul64(v, 1e6)
		got, err := intLiteral(text + "ms")
		if hi == 0 && (err != nil || got != lo) || hi != 0 && err == nil {
			t.Fatalf("%q = %d but %qms = %d, %v", text, v, text, got, err)
		}
	})
}
