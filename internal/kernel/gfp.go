package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// GFPFlag is one name the kernel prints GFP (get free pages) flags with:
// a single flag (__GFP_IO) or a composite (GFP_KERNEL) and its mask.
type GFPFlag struct {
	Name string
	Mask uint64
}

// gfpEvents are events whose print format spells the kernel's GFP names
// (__def_gfpflag_names, the table %pGg prints with), in order of
// preference.
var gfpEvents = []Tracepoint{{"kmem", "kmalloc"}, {"kmem", "mm_page_alloc"}}

// GFPFlags returns the running kernel's GFP flag names, in the order the
// kernel tries them: flag values and the names defined differ with the
// kernel's version and configuration, so they come from the kernel's own
// print format of a kmem event rather than from a table of one build.
func (e *Events) GFPFlags() ([]GFPFlag, error) {
	var errs []error
	for _, tp := range gfpEvents {
		text, err := fs.ReadFile(e.fsys, path.Join("events", tp.Category, tp.Name, "format"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		flags, err := ParseGFPFlags(string(text))
		if err != nil {
			return nil, fmt.Errorf("tracepoint %s: %w", tp, err)
		}
		return flags, nil
	}
	return nil, fmt.Errorf("the GFP flag names: %w", errors.Join(errs...))
}

// ParseGFPFlags reads the GFP names from the __print_flags() of a format
// file's print fmt: {EXPR, "NAME"} pairs whose expressions are integer
// constants, shifts, |, &, ~ and casts, as the kernel's macros expand.
func ParseGFPFlags(format string) ([]GFPFlag, error) {
	const call = "__print_flags(REC->gfp_flags, \"|\","
	_, rest, ok := strings.Cut(format, call)
	if !ok {
		return nil, errors.New("no __print_flags of gfp_flags in the print format")
	}
	var flags []GFPFlag
	for {
		rest = strings.TrimLeft(rest, " ,")
		if !strings.HasPrefix(rest, "{") {
			break
		}
		expr, nameText, tail, err := flagPair(rest[1:])
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(nameText, "\"") {
			break // the table's end: { 0, NULL }
		}
		name, err := strconv.Unquote(nameText)
		if err != nil {
			return nil, fmt.Errorf("flag name %s: %w", nameText, err)
		}
		mask, err := evalFlags(expr)
		if err != nil {
			return nil, fmt.Errorf("flag %s: %w", name, err)
		}
		flags = append(flags, GFPFlag{Name: name, Mask: mask})
		rest = tail
	}
	if len(flags) == 0 {
		return nil, errors.New("__print_flags of gfp_flags names no flag")
	}
	return flags, nil
}

// flagPair splits `EXPR, NAME}...` into its parts and what follows the
// brace; NAME is as written, a string literal but for the table's end.
func flagPair(s string) (expr, name, rest string, err error) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth != 0 {
				continue
			}
			lit := strings.TrimLeft(s[i+1:], " ")
			end := strings.Index(lit, "}")
			if end < 0 {
				return "", "", "", errors.New("unterminated {mask, name} pair")
			}
			return s[:i], strings.TrimSpace(lit[:end]), lit[end+1:], nil
		}
	}
	return "", "", "", errors.New("unterminated {mask, name} pair")
}

// FormatGFP prints flags as the kernel's %pGg does: each name whose mask
// flags hold, in table order, its bits then cleared, joined by '|'; bits
// no name covers follow in hex; no flags print nothing.
func FormatGFP(flags uint64, names []GFPFlag) string {
	var parts []string
	for _, n := range names {
		if flags == 0 {
			break
		}
		if n.Mask != 0 && flags&n.Mask == n.Mask {
			parts = append(parts, n.Name)
			flags &^= n.Mask
		}
	}
	if flags != 0 {
		parts = append(parts, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(parts, "|")
}

// flagExpr evaluates the constant expressions of a print format's flag
// table: C integer literals (with u and l suffixes), ( ), ~, <<, >>, &, ^,
// | and casts to a type named by words.
type flagExpr struct {
	toks []string
	pos  int
}

func evalFlags(s string) (uint64, error) {
	toks, err := flagTokens(s)
	if err != nil {
		return 0, err
	}
	p := &flagExpr{toks: toks}
	v, err := p.binary(0)
	if err == nil && p.pos != len(toks) {
		err = fmt.Errorf("unexpected %q in %q", toks[p.pos], s)
	}
	return v, err
}

func flagTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.HasPrefix(s[i:], "<<") || strings.HasPrefix(s[i:], ">>"):
			toks = append(toks, s[i:i+2])
			i += 2
		case strings.IndexByte("()~&|^", c) >= 0:
			toks = append(toks, s[i:i+1])
			i++
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q in %q", c, s)
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// flagPrecedence ranks the binary operators, loosest first.
var flagPrecedence = map[string]int{"|": 1, "^": 2, "&": 3, "<<": 4, ">>": 4}

func (p *flagExpr) binary(min int) (uint64, error) {
	x, err := p.unary()
	if err != nil {
		return 0, err
	}
	for p.pos < len(p.toks) {
		op := p.toks[p.pos]
		prec, ok := flagPrecedence[op]
		if !ok || prec <= min {
			break
		}
		p.pos++
		y, err := p.binary(prec)
		if err != nil {
			return 0, err
		}
		switch op {
		case "|":
			x |= y
		case "^":
			x ^= y
		case "&":
			x &= y
		case "<<":
			x <<= y
		case ">>":
			x >>= y
		}
	}
	return x, nil
}

func (p *flagExpr) unary() (uint64, error) {
	if p.pos >= len(p.toks) {
		return 0, errors.New("expression ends early")
	}
	t := p.toks[p.pos]
	p.pos++
	switch {
	case t == "~":
		v, err := p.unary()
		return ^v, err
	case t == "(" && p.isCast():
		for p.toks[p.pos] != ")" {
			p.pos++
		}
		p.pos++
		return p.unary()
	case t == "(":
		v, err := p.binary(0)
		if err != nil {
			return 0, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos] != ")" {
			return 0, errors.New("unbalanced parentheses")
		}
		p.pos++
		return v, nil
	}
	return strconv.ParseUint(strings.TrimRight(t, "uUlL"), 0, 64)
}

// isCast reports whether the tokens after a '(' are words up to its ')':
// a type name such as `unsigned long` or `gfp_t`.
func (p *flagExpr) isCast() bool {
	i := p.pos
	for i < len(p.toks) && p.toks[i] != ")" {
		if c := p.toks[i][0]; c >= '0' && c <= '9' || !isWordByte(c) {
			return false
		}
		i++
	}
	return i < len(p.toks) && i > p.pos
}
