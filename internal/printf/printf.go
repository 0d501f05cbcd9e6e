// Package printf owns the format strings of bpftrace's printf: it checks them
// at compile time (Parse, with positions for diagnostics) and renders them at
// run time (Render) the way C's printf does under bpftrace, so %d without a
// length modifier is a 32-bit int, %p of 0 is "(nil)", and a NUL byte ends
// the text a verb produces.
package printf

import (
	"fmt"
	"strconv"
	"strings"
)

// maxSize bounds widths and precisions so that a format cannot ask Render
// for an absurd amount of padding.
const maxSize = 65535

// Verb is one conversion specification, such as %-08.3lx.
type Verb struct {
	Conv   byte   // d i u x X o s c p, r for buffers, g for %gr
	Flags  string // any of "-+ 0#", as written
	Width  int    // -1 if none
	Prec   int    // -1 if none
	Length string // "", "h", "hh", "l", "ll", "z", "j", "t"
	Offset int    // byte offset of the '%' in the format string
	End    int    // byte offset just after the verb
}

// WantsString reports whether the verb takes a string argument (%s); every
// other verb takes an integer.
func (v Verb) WantsString() bool { return v.Conv == 's' }

// WantsBuffer reports whether the verb takes a buffer (%r), which the
// caller renders as text with its bytes escaped.
func (v Verb) WantsBuffer() bool { return v.Conv == 'r' }

// WantsGFP reports whether the verb is %gr, which takes an integer of GFP
// flags that the caller renders as text (the kernel's names, as its
// %pGg prints them) and passes as a string.
func (v Verb) WantsGFP() bool { return v.Conv == 'g' }

// Name is the conversion as written after the flags: %d, %gr.
func (v Verb) Name() string {
	if v.Conv == 'g' {
		return "%gr"
	}
	return "%" + string(v.Conv)
}

func (v Verb) has(flag byte) bool { return strings.IndexByte(v.Flags, flag) >= 0 }

// Format is a parsed format string: literal text around verbs.
type Format struct {
	lits  []string // lits[i] precedes verbs[i]; the last follows every verb
	verbs []Verb
}

// Error is a malformed format string. Offset and End delimit the offending
// verb (or what there is of it) in bytes, for a caret under it.
type Error struct {
	Offset, End int
	Msg         string
	Hint        string // what to write instead, if anything
}

func (e *Error) Error() string { return e.Msg }

// Parse checks a format string and splits it into literal text and verbs.
// %% stands for a single '%'.
func Parse(s string) (*Format, error) {
	f := &Format{}
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		v, err := parseVerb(s, i)
		if err != nil {
			return nil, err
		}
		f.lits = append(f.lits, lit.String())
		lit.Reset()
		f.verbs = append(f.verbs, v)
		i = v.End
	}
	f.lits = append(f.lits, lit.String())
	return f, nil
}

// parseVerb reads the verb whose '%' is at s[start].
func parseVerb(s string, start int) (Verb, error) {
	v := Verb{Width: -1, Prec: -1, Offset: start}
	i := start + 1
	fail := func(end int, format string, args ...any) (Verb, error) {
		return Verb{}, &Error{Offset: start, End: end, Msg: fmt.Sprintf(format, args...)}
	}
	for i < len(s) && strings.IndexByte("-+ 0#", s[i]) >= 0 {
		i++
	}
	v.Flags = s[start+1 : i]
	number := func(what string) (int, error) {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, err := strconv.Atoi(s[j:i])
		if err != nil || n > maxSize {
			return 0, &Error{Offset: start, End: i, Msg: fmt.Sprintf("%s %s is too large (at most %d)", what, s[j:i], maxSize)}
		}
		return n, nil
	}
	if i < len(s) && s[i] == '*' {
		return fail(i+1, "'*' width is not supported; write the width into the format")
	}
	if i < len(s) && s[i] >= '1' && s[i] <= '9' {
		n, err := number("width")
		if err != nil {
			return Verb{}, err
		}
		v.Width = n
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i < len(s) && s[i] == '*' {
			return fail(i+1, "'*' precision is not supported; write the precision into the format")
		}
		v.Prec = 0
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n, err := number("precision")
			if err != nil {
				return Verb{}, err
			}
			v.Prec = n
		}
	}
	for _, l := range []string{"hh", "h", "ll", "l", "z", "j", "t"} {
		if strings.HasPrefix(s[i:], l) {
			v.Length = l
			i += len(l)
			break
		}
	}
	if i >= len(s) {
		return fail(len(s), "incomplete format verb %q at end of string", s[start:])
	}
	c := s[i]
	i++
	switch c {
	case 'd', 'i', 'u', 'x', 'X', 'o', 'p':
	case 's', 'c', 'r':
		if v.Length != "" {
			return fail(i, "length modifier %q cannot be used with %%%c", v.Length, c)
		}
	case 'g':
		if i >= len(s) || s[i] != 'r' {
			return floatVerb(start, i, c)
		}
		i++
		if v.Length != "" {
			return fail(i, "length modifier %q cannot be used with %%gr", v.Length)
		}
	case 'f', 'F', 'e', 'E', 'G', 'a', 'A':
		return floatVerb(start, i, c)
	default:
		if c < ' ' || c > '~' {
			return fail(i, "unknown conversion in %q", s[start:i])
		}
		return fail(i, "unknown conversion %%%c", c)
	}
	v.Conv = c
	v.End = i
	return v, nil
}

// floatVerb is the error of a floating-point conversion, which neither
// BPF nor bpftrace has.
func floatVerb(start, end int, c byte) (Verb, error) {
	return Verb{}, &Error{
		Offset: start, End: end,
		Msg:  fmt.Sprintf("%%%c is a floating-point conversion: BPF has no floating point, so scripts have only integers", c),
		Hint: `print a fixed-point number instead: printf("%d.%03d", x / 1000, x % 1000)`,
	}
}

// Verbs returns the verbs in order; there must be one argument per verb.
func (f *Format) Verbs() []Verb { return f.verbs }

// Render formats args, one per verb: int64, uint64 or bool for integer verbs
// (either is taken as the raw 64 bits and narrowed as the verb's length
// modifier says), string for %s, %r and %gr. A missing or mistyped argument renders as
// 0 or the empty string.
func (f *Format) Render(args []any) string {
	var b strings.Builder
	for i, v := range f.verbs {
		b.WriteString(f.lits[i])
		var arg any
		if i < len(args) {
			arg = args[i]
		}
		out := v.render(arg)
		// C's printf hands bpftrace a C string, so a NUL (from %c) ends it.
		if n := strings.IndexByte(out, 0); n >= 0 {
			out = out[:n]
		}
		b.WriteString(out)
	}
	b.WriteString(f.lits[len(f.lits)-1])
	return b.String()
}

func (v Verb) render(arg any) string {
	if v.Conv == 's' || v.Conv == 'r' || v.Conv == 'g' {
		s, _ := arg.(string)
		if n := strings.IndexByte(s, 0); n >= 0 {
			s = s[:n]
		}
		if v.Prec >= 0 && v.Prec < len(s) {
			s = s[:v.Prec]
		}
		return v.pad("", s, false)
	}
	var bits uint64
	switch a := arg.(type) {
	case int64:
		bits = uint64(a)
	case uint64:
		bits = a
	case bool:
		if a {
			bits = 1
		}
	}
	switch v.Conv {
	case 'c':
		return v.pad("", string([]byte{byte(bits)}), false)
	case 'p':
		if bits == 0 {
			return v.pad("", "(nil)", false)
		}
		return v.number(bits, false, 16, "0x")
	case 'd', 'i':
		n := v.signed(bits)
		if n < 0 {
			return v.number(-uint64(n), true, 10, "")
		}
		return v.number(uint64(n), false, 10, "")
	case 'o':
		return v.number(v.unsigned(bits), false, 8, "")
	case 'x':
		return v.number(v.unsigned(bits), false, 16, "0x")
	case 'X':
		return v.number(v.unsigned(bits), false, 16, "0X")
	default: // 'u'
		return v.number(v.unsigned(bits), false, 10, "")
	}
}

// signed narrows bits to the C type the length modifier names: without
// one, int, 32 bits, as C and bpftrace print %d (%ld and %lld print all
// 64).
func (v Verb) signed(bits uint64) int64 {
	switch v.Length {
	case "":
		return int64(int32(bits))
	case "h":
		return int64(int16(bits))
	case "hh":
		return int64(int8(bits))
	}
	return int64(bits)
}

// unsigned narrows bits to the C type the length modifier names: without
// one, unsigned int, 32 bits.
func (v Verb) unsigned(bits uint64) uint64 {
	switch v.Length {
	case "":
		return uint64(uint32(bits))
	case "h":
		return uint64(uint16(bits))
	case "hh":
		return uint64(uint8(bits))
	}
	return bits
}

// number lays out a magnitude with its sign, base prefix (for %#x and %p),
// precision and width.
func (v Verb) number(mag uint64, negative bool, base int, prefix string) string {
	digits := strconv.FormatUint(mag, base)
	if v.Conv == 'X' {
		digits = strings.ToUpper(digits)
	}
	if v.Prec == 0 && mag == 0 {
		digits = ""
	}
	if v.Prec > len(digits) {
		digits = strings.Repeat("0", v.Prec-len(digits)) + digits
	}
	var lead string
	switch {
	case v.Conv == 'p':
		lead = prefix
	case v.Conv == 'o' && v.has('#') && !strings.HasPrefix(digits, "0"):
		digits = "0" + digits
	case (v.Conv == 'x' || v.Conv == 'X') && v.has('#') && mag != 0:
		lead = prefix
	}
	if v.Conv == 'd' || v.Conv == 'i' || v.Conv == 'p' {
		switch {
		case negative:
			lead = "-" + lead
		case v.has('+'):
			lead = "+" + lead
		case v.has(' '):
			lead = " " + lead
		}
	}
	return v.pad(lead, digits, v.Prec < 0)
}

// pad widens lead+body to the verb's width: on the right for '-', with
// zeros between lead and body for '0' when zeros are allowed, else with
// spaces on the left.
func (v Verb) pad(lead, body string, zerosAllowed bool) string {
	n := v.Width - len(lead) - len(body)
	switch {
	case n <= 0:
		return lead + body
	case v.has('-'):
		return lead + body + strings.Repeat(" ", n)
	case zerosAllowed && v.has('0'):
		return lead + strings.Repeat("0", n) + body
	}
	return strings.Repeat(" ", n) + lead + body
}
