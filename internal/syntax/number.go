package syntax

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Integer literals are written as in C and bpftrace:
//
//	decimal      1000, 1_000_000
//	octal        0755 (a leading 0, as in C)
//	hex          0x1f, 0xffff_ffff
//	scientific   1e6, 5e9, 2.5e3: only where the value is a whole number,
//	             for BPF has no floating point
//
// and may end in a suffix: C's u, l, ul, lu, ll, ull or llu (in any case),
// which bounds the value by its C type's range but changes neither the value
// nor the script type, or a duration unit, ns, us, ms, s, m, h or d, which
// turns a decimal or scientific literal into that many nanoseconds. '_'
// separates digits, one at a time and only between two of them.

// literalError says what is wrong with an integer literal; from and to
// delimit the offending bytes within the literal's text.
type literalError struct {
	from, to  int
	msg, hint string
}

// errWhole returns an error about the whole literal text.
func errWhole(text, hint, format string, args ...any) *literalError {
	return &literalError{from: 0, to: len(text), msg: fmt.Sprintf(format, args...), hint: hint}
}

// cSuffixes are C's integer suffixes, lower-cased, with the type each names
// and that type's largest value on 64-bit Linux.
var cSuffixes = map[string]struct {
	ctype string
	max   uint64
}{
	"u":  {"unsigned int", math.MaxUint32},
	"l":  {"long", math.MaxInt64},
	"ll": {"long long", math.MaxInt64},
	"ul": {"unsigned long", math.MaxUint64}, "lu": {"unsigned long", math.MaxUint64},
	"ull": {"unsigned long long", math.MaxUint64}, "llu": {"unsigned long long", math.MaxUint64},
}

// durationUnits are nanoseconds per unit. Unlike C's suffixes they are
// case-sensitive: 1M is no duration.
var durationUnits = map[string]uint64{
	"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9, "d": 86400e9,
}

const (
	suffixHint    = "suffixes are C's u, l, ul, ll, ull (the value stays the same) and the durations ns, us, ms, s, m, h, d (the value becomes nanoseconds)"
	separatorHint = "'_' goes between two digits: 1_000_000, 0xffff_ffff"
	overflowHint  = "the largest integer is 18446744073709551615 (0xffffffffffffffff)"
	wholeHint     = "BPF has no floating point: a literal must be a whole number, such as 1e6 or 2.5e3"
)

// intLiteral decodes the text of an integer literal, which starts with a
// digit.
func intLiteral(text string) (uint64, *literalError) {
	if len(text) >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') {
		return hexLiteral(text)
	}
	// mantissa [. fraction] [e [sign] exponent] suffix
	intEnd := digitRun(text, 0, isDigit)
	fracStart, fracEnd := intEnd, intEnd
	if intEnd < len(text) && text[intEnd] == '.' {
		fracStart = intEnd + 1
		fracEnd = digitRun(text, fracStart, isDigit)
	}
	expStart, expEnd, negExp := fracEnd, fracEnd, false
	hasExp := fracEnd < len(text) && (text[fracEnd] == 'e' || text[fracEnd] == 'E')
	if hasExp {
		expStart = fracEnd + 1
		if expStart < len(text) && (text[expStart] == '+' || text[expStart] == '-') {
			negExp = text[expStart] == '-'
			expStart++
		}
		expEnd = digitRun(text, expStart, isDigit)
	}
	for _, g := range [][2]int{{0, intEnd}, {fracStart, fracEnd}, {expStart, expEnd}} {
		if err := checkSeparators(text, g[0], g[1]); err != nil {
			return 0, err
		}
	}
	hasFrac := fracStart > intEnd
	suffix := text[expEnd:]
	mantissa := strings.ReplaceAll(text[:intEnd], "_", "")
	switch {
	case hasExp && expEnd == expStart:
		return 0, errWhole(text, "write the power of ten after the e: 1e6 is 1000000", "the exponent of %s has no digits", shorten(text))
	case hasFrac && !hasExp:
		return 0, errWhole(text, wholeHint, "floating-point literal %s is not supported", shorten(text))
	case hasExp:
		v, err := scientific(text, mantissa+strings.ReplaceAll(text[fracStart:fracEnd], "_", ""), fracEnd-fracStart, strings.ReplaceAll(text[expStart:expEnd], "_", ""), negExp)
		if err != nil {
			return 0, err
		}
		return withSuffix(text, v, suffix, true)
	case len(mantissa) > 1 && mantissa[0] == '0':
		if i := strings.IndexAny(text[:intEnd], "89"); i >= 0 {
			return 0, &literalError{from: i, to: i + 1,
				msg:  fmt.Sprintf("invalid digit %c in octal literal %s", text[i], shorten(text)),
				hint: fmt.Sprintf("a leading 0 makes a literal octal, as in C; write %s for the decimal number", strings.TrimLeft(mantissa, "0"))}
		}
		v, err := strconv.ParseUint(mantissa, 8, 64)
		if err != nil {
			return 0, errWhole(text, overflowHint, "integer literal %s overflows 64 bits", shorten(text))
		}
		return withSuffix(text, v, suffix, false)
	}
	v, err := strconv.ParseUint(mantissa, 10, 64)
	if err != nil {
		return 0, errWhole(text, overflowHint, "integer literal %s overflows 64 bits", shorten(text))
	}
	return withSuffix(text, v, suffix, true)
}

// hexLiteral decodes 0xDIGITS with an optional C suffix.
func hexLiteral(text string) (uint64, *literalError) {
	end := digitRun(text, 2, isHex)
	if end == 2 {
		return 0, errWhole(text, "write hex digits after 0x, as in 0x1f", "hex literal %s has no digits", shorten(text))
	}
	if err := checkSeparators(text, 2, end); err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.ReplaceAll(text[2:end], "_", ""), 16, 64)
	if err != nil {
		return 0, errWhole(text, overflowHint, "integer literal %s overflows 64 bits", shorten(text))
	}
	return withSuffix(text, v, text[end:], false)
}

// digitRun returns where the run of digits and '_' starting at i ends.
func digitRun(text string, i int, digit func(byte) bool) int {
	for i < len(text) && (digit(text[i]) || text[i] == '_') {
		i++
	}
	return i
}

// checkSeparators reports a '_' in text[from:to] that does not stand
// between two digits.
func checkSeparators(text string, from, to int) *literalError {
	for i := from; i < to; i++ {
		if text[i] != '_' {
			continue
		}
		j := i
		for j < to && text[j] == '_' {
			j++
		}
		if i == from || j == to || j > i+1 {
			return &literalError{from: i, to: j, msg: fmt.Sprintf("misplaced '_' in integer literal %s", shorten(text)), hint: separatorHint}
		}
	}
	return nil
}

// scientific computes digits × 10^(±exp) / 10^fracLen, the value of a
// scientific literal whose mantissa digits (integer and fraction parts
// together) are digits, when it is a whole number that fits 64 bits.
func scientific(text, digits string, fracLen int, exp string, negExp bool) (uint64, *literalError) {
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, nil
	}
	// An exponent beyond four digits only matters for its sign: the
	// value is then far from both a whole number and 64 bits.
	e := 9999
	if len(exp) <= 4 {
		e, _ = strconv.Atoi(exp)
	}
	if negExp {
		e = -e
	}
	shift := e - fracLen // the value is digits × 10^shift
	for shift < 0 && strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		shift++
	}
	if shift < 0 {
		return 0, errWhole(text, wholeHint, "%s is not a whole number", shorten(text))
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || shift > 19 {
		return 0, errWhole(text, overflowHint, "integer literal %s overflows 64 bits", shorten(text))
	}
	for range shift {
		hi, lo := bits.Mul64(v, 10)
		if hi != 0 {
			return 0, errWhole(text, overflowHint, "integer literal %s overflows 64 bits", shorten(text))
		}
		v = lo
	}
	return v, nil
}

// withSuffix applies a literal's suffix to its value v; decimal says
// whether the literal was decimal or scientific, which a duration must be.
func withSuffix(text string, v uint64, suffix string, decimal bool) (uint64, *literalError) {
	if suffix == "" {
		return v, nil
	}
	at := len(text) - len(suffix)
	if ns, ok := durationUnits[suffix]; ok {
		if !decimal {
			return 0, &literalError{from: at, to: len(text),
				msg:  fmt.Sprintf("duration %s is not a decimal number", shorten(text)),
				hint: "durations are written in decimal, as in 10ms or 1e6ns"}
		}
		hi, lo := bits.Mul64(v, ns)
		if hi != 0 {
			return 0, errWhole(text, "the longest duration is 18446744073709551615ns, about 213503d", "duration %s overflows 64 bits of nanoseconds", shorten(text))
		}
		return lo, nil
	}
	if c, ok := cSuffixes[strings.ToLower(suffix)]; ok {
		if v > c.max {
			return 0, errWhole(text, fmt.Sprintf("the largest %s is %d; without the suffix the literal may be up to 64 bits", c.ctype, c.max),
				"integer literal %s does not fit in %s, the type its suffix %s names", shorten(text), c.ctype, suffix)
		}
		return v, nil
	}
	return 0, &literalError{from: at, to: len(text),
		msg:  fmt.Sprintf("integer literal %s has an unknown suffix %q", shorten(text), shorten(suffix)),
		hint: suffixHint}
}
