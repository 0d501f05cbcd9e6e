package check

import (
	"strconv"

	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// JoinArgs is how many elements of an array join() prints at most, and
// JoinArgSize the bytes of each it keeps (its NUL included), as bpftrace.
const (
	JoinArgs    = 16
	JoinArgSize = 1024
)

// strCap is the largest size str(p, N) may ask for.
func (c *checker) strCap() int { return max(200, c.info.Config.MaxStrlen) }

// Param returns positional parameter n ($n), "" when it was not given.
func (in *Info) Param(n int) string {
	if n < 1 || n > len(in.Params) {
		return ""
	}
	return in.Params[n-1]
}

// ParamInt returns positional parameter n as a number, 0 when it was not
// given (check rejects one that is not a number); n 0 is $#, the count.
func (in *Info) ParamInt(n int) int64 {
	if n == 0 {
		return int64(len(in.Params))
	}
	v, _ := strconv.ParseInt(in.Param(n), 0, 64)
	return v
}

// param types $n used as a number, and $#.
func (c *checker) param(e *syntax.ParamExpr) types.Type {
	if e.N == 0 {
		return types.Int64
	}
	if v := c.info.Param(e.N); v != "" {
		if _, err := strconv.ParseInt(v, 0, 64); err != nil {
			c.errorf(e.Sp, "param", "$%d is used as a number but is %q", e.N, v).
				Hint("str($%d) uses it as a string", e.N)
		}
	}
	return types.Int64
}

// strSource types the argument of str(): a positional parameter there is
// its text, however it reads, cut to max_strlen like any string.
func (c *checker) strSource(arg syntax.Expr) types.Type {
	if p, ok := arg.(*syntax.ParamExpr); ok && p.N > 0 {
		t := types.String(min(len(c.info.Param(p.N))+1, c.info.Config.MaxStrlen))
		c.cur.Types[p] = t
		return t
	}
	return c.expr(arg)
}

// printsAsText reports whether user space renders values of t as text,
// so that printf takes them with %s.
func printsAsText(t types.Type) bool {
	return t.Kind == types.Sym || t.Kind == types.Stack || t.Kind == types.Time || t.Kind == types.Text
}

// bufferVerb checks a printf argument where either the verb is %r or the
// value is a buffer: they go together.
func (c *checker) bufferVerb(a syntax.Expr, v printf.Verb, t types.Type) {
	switch {
	case v.WantsBuffer() && t.Kind != types.Buf:
		c.errorf(a.Span(), "printf", "%%r needs a buffer, but this is %s", t).Hint("buf(p, n) reads n bytes for %%r")
	case !v.WantsBuffer():
		c.errorf(a.Span(), "printf", "%%%c cannot print a buffer", v.Conv).Hint("use %%r to print a buffer's bytes")
	}
}

// buf types buf(p, n): n bytes at pointer p, or the bytes of a string.
// A length that is not a literal is known only when the probe runs; the
// buffer then holds up to max_strlen bytes.
func (c *checker) buf(e *syntax.CallExpr) types.Type {
	t, reported := c.exprReported(e.Args[0])
	switch {
	case reported:
	case t.Kind == types.Str:
	case !t.IsInt():
		c.errorf(e.Args[0].Span(), "type", "buf() reads memory at a pointer or the bytes of a string, not %s", t)
	case len(e.Args) == 1:
		c.errorf(e.Sp, "arguments", "buf() of a pointer needs a length: buf(p, n)")
	}
	size := t.Size
	if t.Kind != types.Str {
		size = c.info.Config.MaxStrlen
	}
	if len(e.Args) == 1 {
		return types.Buffer(max(size, 1))
	}
	n := e.Args[1]
	lit, ok := n.(*syntax.IntLit)
	if !ok {
		if lt, reported := c.exprReported(n); !lt.IsInt() && !reported {
			c.errorf(n.Span(), "type", "buf() length must be an integer, not %s", lt)
		}
		return types.Buffer(size)
	}
	c.cur.Types[lit] = types.Int64
	if lit.Value == 0 || lit.Value > uint64(c.strCap()) {
		c.errorf(lit.Sp, "arguments", "buf() length must be 1 to %d", c.strCap()).
			Hint("max_strlen in the config block or BPFTRACE_MAX_STRLEN raises the limit")
		return types.Buffer(size)
	}
	return types.Buffer(int(lit.Value))
}

// join types join(array [, separator]): array points to NULL-terminated
// array of string pointers, such as a command's argv.
func (c *checker) join(e *syntax.CallExpr) {
	if t, reported := c.exprReported(e.Args[0]); !t.IsInt() && !reported {
		c.errorf(e.Args[0].Span(), "type", "join() needs a pointer to an array of string pointers, not %s", t).
			Hint("for example join(args.argv) in tracepoint:syscalls:sys_enter_execve")
	}
	if len(e.Args) == 2 {
		lit, ok := e.Args[1].(*syntax.StringLit)
		if !ok {
			c.expr(e.Args[1])
			c.errorf(e.Args[1].Span(), "arguments", "join() needs a string literal as its separator")
			return
		}
		c.cur.Types[lit] = types.String(len(lit.Value) + 1)
	}
}
