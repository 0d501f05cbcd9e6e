package check

import (
	"github.com/ebtrace/ebtrace/internal/preprocess"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// Constant folding, for what the script decides when it compiles: a
// static_assert()'s condition, fail()'s values, and the if conditions
// that make a fail() unreachable. It folds integer and string literals,
// true and false, positional parameters ($1 as a number, str($1) as
// text, $#), the values the checker resolved (enum constants, the is_*
// questions, kfunc_exist(), default_str_length), and the operators - ! ~ * / % + -
// << >> & ^ | < <= > >= == != && || and ?: over them, in 64-bit signed
// arithmetic. It does not fold variables (even ones assigned a literal),
// maps, casts, or calls other than those.

// fold returns the value of e when the script's text decides it: an
// int64, or a string.
func (c *checker) fold(e syntax.Expr) (any, bool) {
	if x, ok := c.cur.Rewrites[e]; ok {
		return c.fold(x)
	}
	switch e := e.(type) {
	case *syntax.IntLit:
		return int64(e.Value), true
	case *syntax.StringLit:
		return e.Value, true
	case *syntax.ParamExpr:
		return c.info.ParamInt(e.N), true
	case *syntax.CallExpr:
		if p, ok := paramText(e); ok {
			return c.info.Param(p.N), true
		}
	case *syntax.UnaryExpr:
		x, ok := c.foldInt(e.X)
		if !ok {
			return nil, false
		}
		switch e.Op {
		case "-":
			return -x, true
		case "!":
			return truth(x == 0), true
		case "~":
			return ^x, true
		}
		return nil, false
	case *syntax.BinaryExpr:
		return c.foldBinary(e)
	case *syntax.CondExpr:
		cond, ok := c.foldInt(e.Cond)
		if !ok {
			return nil, false
		}
		if cond != 0 {
			return c.fold(e.Then)
		}
		return c.fold(e.Else)
	}
	if v, ok := c.cur.Consts[e]; ok {
		return int64(v), true
	}
	return nil, false
}

// paramText recognizes str($N), a positional parameter as text.
func paramText(e *syntax.CallExpr) (*syntax.ParamExpr, bool) {
	if e.Fun != "str" || len(e.Args) != 1 {
		return nil, false
	}
	p, ok := e.Args[0].(*syntax.ParamExpr)
	return p, ok && p.N > 0
}

func (c *checker) foldInt(e syntax.Expr) (int64, bool) {
	v, ok := c.fold(e)
	n, isInt := v.(int64)
	return n, ok && isInt
}

func truth(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (c *checker) foldBinary(e *syntax.BinaryExpr) (any, bool) {
	if e.Op == "&&" || e.Op == "||" {
		x, ok := c.foldInt(e.X)
		switch {
		case !ok:
			return nil, false
		case e.Op == "&&" && x == 0:
			return int64(0), true
		case e.Op == "||" && x != 0:
			return int64(1), true
		}
		y, ok := c.foldInt(e.Y)
		return truth(y != 0), ok
	}
	a, ok1 := c.fold(e.X)
	b, ok2 := c.fold(e.Y)
	if !ok1 || !ok2 {
		return nil, false
	}
	if s, ok := a.(string); ok {
		t, ok := b.(string)
		switch {
		case !ok:
			return nil, false
		case e.Op == "==":
			return truth(s == t), true
		case e.Op == "!=":
			return truth(s != t), true
		}
		return nil, false
	}
	x, ok1 := a.(int64)
	y, ok2 := b.(int64)
	if !ok1 || !ok2 {
		return nil, false
	}
	v, err := preprocess.Apply(e.Op, x, y)
	return v, err == nil
}

// ifBranches says which branches of if (cond) the script's text rules
// out: the then branch when cond folds to false, the else branch when it
// folds to true.
func (c *checker) ifBranches(cond syntax.Expr) (deadThen, deadElse bool) {
	v, ok := c.foldInt(cond)
	return ok && v == 0, ok && v != 0
}

// within checks f's statements as unreachable when dead is true.
func (c *checker) within(dead bool, f func()) {
	if dead {
		c.dead++
		defer func() { c.dead-- }()
	}
	f()
}
