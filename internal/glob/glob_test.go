package glob

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var matchTests = []struct {
	pattern, name string
	want          bool
}{
	{"", "", true},
	{"", "a", false},
	{"a", "", false},
	{"*", "", true},
	{"*", "vfs_read", true},
	{"**", "", true},
	{"vfs_read", "vfs_read", true},
	{"vfs_read", "vfs_reads", false},
	{"vfs_*", "vfs_read", true},
	{"vfs_*", "vfs_", true},
	{"vfs_*", "vfs", false},
	{"*_read", "vfs_read", true},
	{"*read*", "vfs_readv", true},
	{"*read*", "vfs_write", false},
	{"syscalls:sys_enter_*", "syscalls:sys_enter_openat", true},
	{"*:sys_enter_open*", "syscalls:sys_enter_openat", true},
	{"*a*b", "aaab", true},
	{"*a*b", "aaaba", false},
	{"a*b*c", "abbbc", true},
	{"a*b*c", "acb", false},
	{"*ab*", "aab", true},
	{"a?c", "abc", true},
	{"a?c", "ac", false},
	{"???", "abc", true},
	{"???", "ab", false},
	{"?", "é", true},
	{"*?", "", false},
	{"*?", "x", true},
	{"[abc]", "b", true},
	{"[abc]", "d", false},
	{"[abc]", "", false},
	{"[a-c]at", "bat", true},
	{"[a-c]at", "rat", false},
	{"[a-cx-z]", "y", true},
	{"[!a-c]at", "rat", true},
	{"[!a-c]at", "bat", false},
	{"[^a-c]at", "rat", true},
	{"[^a-c]at", "cat", false},
	{"[]]", "]", true},
	{"[]a]", "a", true},
	{"[!]]", "]", false},
	{"[!]]", "x", true},
	{"[-a]", "-", true},
	{"[a-]", "-", true},
	{"[a-]", "b", false},
	{"[\\]]", "]", true},
	{"[\\-]", "-", true},
	{"[\\!a]", "!", true},
	{"[é-ü]", "ö", true},
	{"x[*?]", "x*", true},
	{"x[*?]", "xa", false},
	{"sys_enter_[or]*", "sys_enter_read", true},
	{"sys_enter_[or]*", "sys_enter_write", false},
	{"\\*", "*", true},
	{"\\*", "a", false},
	{"a\\?c", "a?c", true},
	{"a\\?c", "abc", false},
	{"\\[x]", "[x]", true},
	{"\\\\", "\\", true},
	{"\\a", "a", true},
	{"*\\*", "ab*", true},
	{"*\\*", "ab", false},
	{"*a*a*a*a*a*a*b", strings.Repeat("a", 60), false},
	{"*a*a*a*a*a*a*b", strings.Repeat("a", 60) + "b", true},
	{strings.Repeat("*", 20), strings.Repeat("x", 200), true},
	// Malformed patterns match nothing.
	{"[ab", "a", false},
	{"[ab", "[ab", false},
	{"*[", "x[", false},
	{"a\\", "a\\", false},
	{"[z-a]", "m", false},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		if got := Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		pattern, err string // err "" for a valid pattern
	}{
		{"", ""},
		{"vfs_*", ""},
		{"[a-z]*", ""},
		{"[]]", ""},
		{"[!]a]", ""},
		{"\\[", ""},
		{"[a-]", ""},
		{"ab[cd", "bad wildcard pattern ab[cd: its [ at byte 2 has no closing ] (write \\[ for a literal [)"},
		{"[]", "bad wildcard pattern []: its [ at byte 0 has no closing ] (write \\[ for a literal [)"},
		{"[!]", "bad wildcard pattern [!]: its [ at byte 0 has no closing ] (write \\[ for a literal [)"},
		{"x[a\\]", "bad wildcard pattern x[a\\]: its [ at byte 1 has no closing ] (write \\[ for a literal [)"},
		{"x[a\\", "bad wildcard pattern x[a\\: its [ at byte 1 has no closing ] (write \\[ for a literal [)"},
		{"[z-a]", "bad wildcard pattern [z-a]: its [ at byte 0 holds the backwards range z-a"},
		{"vfs_\\", "bad wildcard pattern vfs_\\: it ends in a \\ that escapes nothing"},
	} {
		err := Check(tt.pattern)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.pattern, err)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("Check(%q) = %v, want %s", tt.pattern, err, tt.err)
		case err != nil && !errors.Is(err, ErrBadPattern):
			t.Errorf("Check(%q) = %v, which does not wrap ErrBadPattern", tt.pattern, err)
		}
	}
}

// TestMatchStarHeavy runs patterns that took the former backtracking
// matcher time exponential in their stars: 20 stars against 200
// characters would not have finished within any test timeout.
func TestMatchStarHeavy(t *testing.T) {
	long := strings.Repeat("a", 200)
	for _, pattern := range []string{
		strings.Repeat("*a", 20) + "*b",
		strings.Repeat("*?", 20) + "b",
		strings.Repeat("*[a-c]", 20) + "*b",
		strings.Repeat("a*", 20) + "b",
	} {
		if Match(pattern, long) {
			t.Errorf("Match(%q, 200 a's) = true", pattern)
		}
		if !Match(pattern, long+"b") {
			t.Errorf("Match(%q, 200 a's and b) = false", pattern)
		}
	}
	huge := strings.Repeat("a", 100000)
	if Match(strings.Repeat("*a", 100)+"*b", huge) {
		t.Error("100 stars matched 100000 a's without a b")
	}
}

// FuzzWildcard compares Match with Go's regexp engine running each
// pattern translated by reference, and Check with whether it translates.
func FuzzWildcard(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.pattern, tt.name)
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(name) {
			t.Skip("kernel, symbol and probe names are UTF-8")
		}
		re, ok := reference(pattern)
		if err := Check(pattern); (err == nil) != ok {
			t.Fatalf("Check(%q) = %v, but the reference says valid=%v", pattern, err, ok)
		}
		want := ok && re.MatchString(name)
		if got := Match(pattern, name); got != want {
			t.Fatalf("Match(%q, %q) = %v, regexp %v says %v", pattern, name, got, re, want)
		}
	})
}

// reference translates a pattern to an anchored regexp, element by
// element, or reports false for a malformed pattern.
func reference(pattern string) (*regexp.Regexp, bool) {
	rs := []rune(pattern)
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '\\':
			if i++; i == len(rs) {
				return nil, false
			}
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '[':
			j := i + 1
			b.WriteString(`[`)
			if j < len(rs) && (rs[j] == '!' || rs[j] == '^') {
				b.WriteString(`^`)
				j++
			}
			first := j
			// char reads one set member at rs[j], escaped or not.
			char := func() (rune, bool) {
				if j < len(rs) && rs[j] == '\\' {
					j++
				}
				if j == len(rs) {
					return 0, false
				}
				j++
				return rs[j-1], true
			}
			for {
				if j == len(rs) {
					return nil, false
				}
				if rs[j] == ']' && j > first {
					break
				}
				lo, ok := char()
				if !ok {
					return nil, false
				}
				hi := lo
				if j+1 < len(rs) && rs[j] == '-' && rs[j+1] != ']' {
					j++
					if hi, ok = char(); !ok || hi < lo {
						return nil, false
					}
				}
				fmt.Fprintf(&b, `\x{%x}-\x{%x}`, lo, hi)
			}
			b.WriteString(`]`)
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String()), true
}

func TestLiterals(t *testing.T) {
	for pattern, want := range map[string]string{
		"":              "",
		"vfs_read":      "vfs_read",
		"vfs_*":         "vfs_",
		"s?s_[a-z-]*_x": "ss__x",
		"[]-]a":         "a",
		`a\*b\\`:        `a*b\`,
		`[\]]x`:         "x",
		`\é`:            "é",
	} {
		if got := Literals(pattern); got != want {
			t.Errorf("Literals(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestElems(t *testing.T) {
	got, err := Elems(`a*?[!b-d\]]\*`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Elem{
		{Kind: Literal, Byte: 'a'}, {Kind: AnyRun}, {Kind: AnyOne},
		{Kind: Set, Negate: true, Ranges: [][2]byte{{'b', 'd'}, {']', ']'}}},
		{Kind: Literal, Byte: '*'},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Elems = %v, want %v", got, want)
	}
	for _, bad := range []string{"[a", `x\`, "[é]"} {
		if _, err := Elems(bad); err == nil {
			t.Errorf("Elems(%q) accepted", bad)
		}
	}
}
