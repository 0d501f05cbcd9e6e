// Package glob owns the wildcard dialect of attach points and probe
// listings, the one every probe type and the tracepoint tree use:
//
//   - '*' matches any run of characters, none included (colons too);
//   - '?' matches any one character;
//   - "[abc]" matches one character of the set, "[a-z]" one of a range,
//     "[!a]" or "[^a]" one character not in the set; a ']' first in the
//     set and a '-' first or last stand for themselves;
//   - '\' makes the character after it literal, outside or inside a set.
//
// Match runs in O(len(pattern)·len(name)) time without recursion, so no
// pattern can make matching it against every kernel symbol slow.
package glob

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrBadPattern is wrapped by Check's errors.
var ErrBadPattern = errors.New("bad wildcard pattern")

// Syntax says in one line what a pattern may hold, for hints.
const Syntax = `wildcards are * (any run), ? (one character), [abc], [a-z], [!a] (one character of a set or not in it); \ makes the next character literal`

// HasMeta reports whether s must be matched as a pattern rather than
// compared as a name.
func HasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// Check returns an error wrapping ErrBadPattern that says what is wrong
// when pattern is not well formed: a '[' with no closing ']', a range
// whose ends are reversed, or a '\' with nothing after it.
func Check(pattern string) error {
	for i := 0; i < len(pattern); {
		switch pattern[i] {
		case '\\':
			if i+1 == len(pattern) {
				return fmt.Errorf(`%w %s: it ends in a \ that escapes nothing`, ErrBadPattern, pattern)
			}
			_, w := utf8.DecodeRuneInString(pattern[i+1:])
			i += 1 + w
		case '[':
			_, n, err := class(pattern[i:], 0)
			if err != nil {
				return fmt.Errorf("%w %s: its [ at byte %d %v", ErrBadPattern, pattern, i, err)
			}
			i += n
		default:
			i++
		}
	}
	return nil
}

// Literals returns the characters a well-formed pattern matches as
// themselves, in order: those outside sets, escapes removed. A caller
// checks them for characters no name can hold.
func Literals(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '*', '?':
		case '[':
			if _, n, err := class(pattern[i:], 0); err == nil {
				i += n - 1
			}
		case '\\':
			if i+1 < len(pattern) {
				i++
			}
			b.WriteByte(pattern[i])
		default:
			b.WriteByte(pattern[i])
		}
	}
	return b.String()
}

// Match reports whether name matches all of pattern. A pattern Check
// rejects matches nothing.
//
// Every element of a pattern other than '*' matches exactly one character,
// so when an element fails it is enough to let the last '*' seen absorb one
// more character and retry from just after it: an earlier '*' absorbing
// more could only lead to states the last one also reaches. Each retry
// advances the name, which bounds the work by len(pattern)·len(name).
func Match(pattern, name string) bool {
	p, n := 0, 0
	star, starName := -1, 0 // just after the last '*' seen; where its run ends in name
	for n < len(name) || p < len(pattern) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				p++
				star, starName = p, n
				continue
			case '?':
				if n < len(name) {
					_, w := utf8.DecodeRuneInString(name[n:])
					p, n = p+1, n+w
					continue
				}
			case '[':
				if n < len(name) {
					r, w := utf8.DecodeRuneInString(name[n:])
					ok, size, err := class(pattern[p:], r)
					if err != nil {
						return false
					}
					if ok {
						p, n = p+size, n+w
						continue
					}
				}
			default:
				lit := p
				if c == '\\' {
					if lit++; lit == len(pattern) {
						return false
					}
				}
				_, pw := utf8.DecodeRuneInString(pattern[lit:])
				_, w := utf8.DecodeRuneInString(name[n:])
				if name[n:n+w] == pattern[lit:lit+pw] {
					p, n = lit+pw, n+w
					continue
				}
			}
		}
		if star < 0 || starName == len(name) {
			return false
		}
		_, w := utf8.DecodeRuneInString(name[starName:])
		starName += w
		p, n = star, starName
	}
	return true
}

// errUnclosed completes "its [ at byte N".
var errUnclosed = errors.New(`has no closing ] (write \[ for a literal [)`)

// class parses the bracket expression at the start of pattern and reports
// whether r is in it and the expression's length in bytes.
func class(pattern string, r rune) (in bool, size int, err error) {
	negate, size, err := classRanges(pattern, func(lo, hi rune) { in = in || lo <= r && r <= hi })
	if err != nil {
		return false, 0, err
	}
	return in != negate, size, nil
}

// classRanges parses the bracket expression at the start of pattern,
// calling each for its ranges (a lone character is a range of one), and
// returns whether it is negated and its length in bytes.
func classRanges(pattern string, each func(lo, hi rune)) (negate bool, size int, err error) {
	i := 1
	negate = i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^')
	if negate {
		i++
	}
	first := i
	for {
		if i == len(pattern) {
			return false, 0, errUnclosed
		}
		if pattern[i] == ']' && i > first {
			return negate, i + 1, nil
		}
		start := i
		lo, n, err := classChar(pattern[i:])
		if err != nil {
			return false, 0, err
		}
		i += n
		hi := lo
		if i+1 < len(pattern) && pattern[i] == '-' && pattern[i+1] != ']' {
			if hi, n, err = classChar(pattern[i+1:]); err != nil {
				return false, 0, err
			}
			if hi < lo {
				return false, 0, fmt.Errorf("holds the backwards range %s", pattern[start:i+1+n])
			}
			i += 1 + n
		}
		each(lo, hi)
	}
}

// classChar returns the character, escaped or not, at the start of s, a
// set's contents, and its length in bytes.
func classChar(s string) (rune, int, error) {
	if s[0] != '\\' {
		r, w := utf8.DecodeRuneInString(s)
		return r, w, nil
	}
	if len(s) == 1 {
		return 0, 0, errUnclosed
	}
	r, w := utf8.DecodeRuneInString(s[1:])
	return r, 1 + w, nil
}

// Elem is one element of a pattern, for matchers outside this package
// (globmatch() in BPF): '*', '?', a byte, or a set of byte ranges.
type Elem struct {
	Kind   ElemKind
	Byte   byte      // Literal
	Ranges [][2]byte // Set: inclusive ranges
	Negate bool      // Set: [!...]
}

// ElemKind says what an Elem matches.
type ElemKind int

const (
	Literal ElemKind = iota // one byte
	AnyRun                  // '*': any run of bytes
	AnyOne                  // '?': one byte
	Set                     // [...]: one byte of a set, or not in it
)

// Elems splits a pattern Check accepts into its elements, bytewise: a
// literal character of several bytes is several Literals. A set must
// hold ASCII characters only.
func Elems(pattern string) ([]Elem, error) {
	if err := Check(pattern); err != nil {
		return nil, err
	}
	var out []Elem
	for i := 0; i < len(pattern); {
		switch c := pattern[i]; c {
		case '*':
			out = append(out, Elem{Kind: AnyRun})
			i++
		case '?':
			out = append(out, Elem{Kind: AnyOne})
			i++
		case '[':
			e, n, err := set(pattern[i:])
			if err != nil {
				return nil, fmt.Errorf("%w %s: %v", ErrBadPattern, pattern, err)
			}
			out = append(out, e)
			i += n
		case '\\':
			out = append(out, Elem{Kind: Literal, Byte: pattern[i+1]})
			i += 2
		default:
			out = append(out, Elem{Kind: Literal, Byte: c})
			i++
		}
	}
	return out, nil
}

// set parses the bracket expression at the start of pattern, which Check
// accepted, into a Set and its length in bytes.
func set(pattern string) (Elem, int, error) {
	e := Elem{Kind: Set}
	ascii := true
	negate, size, err := classRanges(pattern, func(lo, hi rune) {
		ascii = ascii && hi < utf8.RuneSelf
		e.Ranges = append(e.Ranges, [2]byte{byte(lo), byte(hi)})
	})
	if err != nil {
		return Elem{}, 0, err
	}
	if !ascii {
		return Elem{}, 0, fmt.Errorf("a set holds ASCII characters only")
	}
	e.Negate = negate
	return e, size, nil
}
