package preprocess

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// evaluator computes the integer constant expression of an #if or #elif
// by precedence climbing over its tokens (already macro-expanded, blanks
// removed). Arithmetic is in int64; C's unsigned promotions are not
// modelled, which no script's condition needs.
type evaluator struct {
	toks []token
	pos  int
}

// errDivZero is division or remainder by zero in a condition.
var errDivZero = errors.New("division by zero in #if")

func (e *evaluator) peek() string {
	if e.pos < len(e.toks) {
		return e.toks[e.pos].text
	}
	return ""
}

// binary operators by precedence, loosest first.
var precedence = map[string]int{
	"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5,
	"==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
	"<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}

// evaluate returns the value of the whole expression.
func (e *evaluator) evaluate() (int64, error) {
	v, err := e.ternary()
	if err != nil {
		return 0, err
	}
	if e.pos < len(e.toks) {
		return 0, fmt.Errorf("unexpected %q in #if expression", e.peek())
	}
	return v, nil
}

func (e *evaluator) ternary() (int64, error) {
	cond, err := e.binary(1)
	if err != nil || e.peek() != "?" {
		return cond, err
	}
	e.pos++
	a, err := e.ternary()
	if err != nil {
		return 0, err
	}
	if e.peek() != ":" {
		return 0, fmt.Errorf("expected ':' in #if expression, found %s", e.describe())
	}
	e.pos++
	b, err := e.ternary()
	if err != nil {
		return 0, err
	}
	if cond != 0 {
		return a, nil
	}
	return b, nil
}

func (e *evaluator) describe() string {
	if e.pos >= len(e.toks) {
		return "the end of the line"
	}
	return strconv.Quote(e.peek())
}

func (e *evaluator) binary(min int) (int64, error) {
	l, err := e.unary()
	if err != nil {
		return 0, err
	}
	for {
		op := e.peek()
		prec, ok := precedence[op]
		if !ok || prec < min {
			return l, nil
		}
		e.pos++
		r, err := e.binary(prec + 1)
		if err != nil {
			return 0, err
		}
		if l, err = Apply(op, l, r); err != nil {
			return 0, err
		}
	}
}

// Apply computes l op r for a C binary operator as 64-bit signed
// integers: comparisons and && || give 1 or 0, shifts take the count
// modulo 64, and / or % by zero is an error.
func Apply(op string, l, r int64) (int64, error) {
	truth := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	switch op {
	case "||":
		return truth(l != 0 || r != 0), nil
	case "&&":
		return truth(l != 0 && r != 0), nil
	case "|":
		return l | r, nil
	case "^":
		return l ^ r, nil
	case "&":
		return l & r, nil
	case "==":
		return truth(l == r), nil
	case "!=":
		return truth(l != r), nil
	case "<":
		return truth(l < r), nil
	case ">":
		return truth(l > r), nil
	case "<=":
		return truth(l <= r), nil
	case ">=":
		return truth(l >= r), nil
	case "<<":
		return l << uint64(r&63), nil
	case ">>":
		return l >> uint64(r&63), nil
	case "+":
		return l + r, nil
	case "-":
		return l - r, nil
	case "*":
		return l * r, nil
	}
	if r == 0 {
		return 0, errDivZero
	}
	if op == "/" {
		return l / r, nil
	}
	return l % r, nil
}

func (e *evaluator) unary() (int64, error) {
	if e.pos >= len(e.toks) {
		return 0, errors.New("#if expression ends early")
	}
	t := e.toks[e.pos]
	e.pos++
	switch {
	case t.text == "(":
		v, err := e.ternary()
		if err != nil {
			return 0, err
		}
		if e.peek() != ")" {
			return 0, fmt.Errorf("expected ')' in #if expression, found %s", e.describe())
		}
		e.pos++
		return v, nil
	case t.text == "!" || t.text == "~" || t.text == "-" || t.text == "+":
		v, err := e.unary()
		switch t.text {
		case "!":
			if v == 0 {
				return 1, err
			}
			return 0, err
		case "~":
			return ^v, err
		case "-":
			return -v, err
		}
		return v, err
	case t.kind == kIdent:
		return 0, nil // an identifier left after expansion is 0, as in C
	case t.kind == kNumber:
		return parseNumber(t.text)
	case t.kind == kString && t.text[0] == '\'':
		return parseChar(t.text)
	}
	return 0, fmt.Errorf("unexpected %q in #if expression", t.text)
}

// parseNumber reads a C integer literal with any u/l suffixes.
func parseNumber(s string) (int64, error) {
	digits := strings.TrimRight(s, "uUlL")
	base := 10
	switch {
	case strings.HasPrefix(digits, "0x") || strings.HasPrefix(digits, "0X"):
		base, digits = 16, digits[2:]
	case strings.HasPrefix(digits, "0b") || strings.HasPrefix(digits, "0B"):
		base, digits = 2, digits[2:]
	case len(digits) > 1 && digits[0] == '0':
		base, digits = 8, digits[1:]
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", s)
	}
	return int64(v), nil
}

// parseChar reads a character literal such as 'a' or '\n'.
func parseChar(s string) (int64, error) {
	v, _, tail, err := strconv.UnquoteChar(strings.TrimSuffix(s[1:], "'"), '\'')
	if err != nil || tail != "" || !strings.HasSuffix(s, "'") {
		return 0, fmt.Errorf("%s is not a character constant", s)
	}
	return int64(v), nil
}
