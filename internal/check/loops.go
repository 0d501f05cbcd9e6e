package check

import (
	"slices"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// maxUnroll bounds unroll(N), as bpftrace does: the body is repeated N
// times in the code.
const maxUnroll = 100

// loopScope is what the statements being checked are nested in.
type loopScope struct {
	loops int // enclosing while and for loops, which break and continue leave
	// callback is the innermost enclosing for over a map, whose body runs
	// in a callback without the probe's context; nil outside one.
	callback *syntax.ForMapStmt
}

// loopStmt checks while, unroll, for and the jump statements.
func (c *checker) loopStmt(s syntax.Stmt) {
	outer := c.scope
	defer func() { c.scope = outer }()
	switch s := s.(type) {
	case *syntax.WhileStmt:
		if t, reported := c.exprReported(s.Cond); !t.IsInt() && !reported {
			c.errorf(s.Cond.Span(), "type", "a while condition must be an integer, not %s", t)
		}
		c.scope.loops++
		c.block(s.Body)
	case *syntax.UnrollStmt:
		c.expr(s.Count)
		lit, ok := s.Count.(*syntax.IntLit)
		if !ok || lit.Value < 1 || lit.Value > maxUnroll {
			c.errorf(s.Count.Span(), "loop", "unroll() needs an integer literal from 1 to %d", maxUnroll).
				Hint("for a count known only at run time use while or for ($i : 0..N)")
		}
		c.block(s.Body)
	case *syntax.ForRangeStmt:
		for _, e := range []syntax.Expr{s.Start, s.End} {
			if t, reported := c.exprReported(e); !t.IsInt() && !reported {
				c.errorf(e.Span(), "type", "a range bound must be an integer, not %s", t)
			}
		}
		c.defineLoopVar(s.Var, types.Int64)
		c.scope.loops++
		c.block(s.Body)
	case *syntax.ForMapStmt:
		c.forMap(s)
	case *syntax.JumpStmt:
		if s.Keyword != "return" && c.scope.loops == 0 {
			c.errorf(s.Sp, "loop", "%s is only allowed in a while or for loop", s.Keyword).
				Hint("return leaves the probe")
		}
		if s.Value != nil {
			c.returnValue(s)
		}
	}
}

// forMap checks `for ($kv : @map)`: $kv.0 is the key (a tuple of the key
// parts when there are several) and $kv.1 the value, for a per-CPU
// aggregation the value of every CPU combined.
func (c *checker) forMap(s *syntax.ForMapStmt) {
	c.cur.Types[s.Map] = types.None
	m, ok := c.lookupMap(s.Map, nil)
	switch {
	case !ok:
		if !c.learning {
			c.unassigned(s.Map.Sp, s.Map.Name, "never assigned")
		}
	case m.Kind != output.Scalar && m.Kind != output.String && !m.Kind.PerCPU():
		c.errorf(s.Map.Sp, "loop", "for cannot iterate over %s, which holds %s: it has no single value per key", m.DisplayName(), kindName(m.Kind)).
			Hint("print(%s) shows it; for iterates over maps of integers, strings, count(), sum(), min(), max() and avg()", m.DisplayName())
	case !m.Keyed:
		c.errorf(s.Map.Sp, "loop", "%s has no keys to iterate over", m.DisplayName()).
			Hint("for iterates over a map assigned with keys, e.g. @m[pid] = 1")
	case slices.ContainsFunc(append(slices.Clone(m.Keys), m.Value), needsContext):
		c.errorf(s.Map.Sp, "loop", "for cannot iterate over %s: its symbols or stacks are resolved only when printed", m.DisplayName()).
			Hint("print the map with print(%s) instead", m.DisplayName())
	default:
		key := types.TupleOf(m.Keys...)
		if len(m.Keys) == 1 {
			key = m.Keys[0]
		}
		value := types.Int64
		if m.Kind == output.String {
			value = m.Value
		}
		c.defineLoopVar(s.Var, types.TupleOf(key, value))
	}
	c.scope.loops++
	c.scope.callback = s
	c.block(s.Body)
}

// needsContext reports whether values of t are recorded with the probe's
// context (stacks) or printed by symbol, which a loop variable cannot hold.
func needsContext(t types.Type) bool { return t.Kind == types.Sym || t.Kind == types.Stack }

// defineLoopVar gives a loop's variable its type.
func (c *checker) defineLoopVar(v *syntax.VarExpr, t types.Type) {
	if old, ok := c.cur.Vars[v.Key()]; ok && !types.Same(old, t) {
		c.errorf(v.Sp, "type", "$%s is %s; it cannot also hold %s", v.Name, old, t).
			Hint("name the loop variable differently")
		return
	} else if ok {
		t = types.Widen(old, t)
	}
	c.cur.Vars[v.Key()] = t
	c.cur.Types[v] = t
}

// noContext reports a use of the probe's context inside the body of a for
// over a map, which runs as a callback the kernel calls without it.
func (c *checker) noContext(sp source.Span, what string) {
	if c.scope.callback == nil {
		return
	}
	line, _ := c.info.Program.File.Position(c.scope.callback.Sp.Start)
	c.errorf(sp, "loop", "%s cannot be used in the body of the for loop over a map on line %d", what, line).
		Hint("the body runs in a callback without the probe's context: only maps, scratch variables and calls that need no context work there; compute %s before the loop", what)
}

// tupleExpr types `(a, b, ...)`.
func (c *checker) tupleExpr(e *syntax.TupleExpr) types.Type {
	elems := make([]types.Type, len(e.Elems))
	for i, x := range e.Elems {
		t, reported := c.exprReported(x)
		switch t.Kind {
		case types.Int, types.Ptr, types.Bool, types.Str, types.Tuple:
		case types.Void:
			if !reported {
				c.errorf(x.Span(), "type", "this expression has no value to put in a tuple")
			}
			return types.None
		default:
			c.errorf(x.Span(), "type", "a tuple cannot hold %s in this version", t).
				Hint("tuples hold integers, strings and tuples")
			return types.None
		}
		elems[i] = t
	}
	return types.NamedTupleOf(e.Names, elems...)
}

// indexExpr types `x.N`.
func (c *checker) indexExpr(e *syntax.TupleIndex) types.Type {
	t, reported := c.exprReported(e.X)
	if t.Kind != types.Tuple {
		if !reported {
			c.errorf(e.Span(), "type", "%s is %s, not a tuple: .%d needs a tuple", c.text(e.X), t, e.Index)
		}
		return types.None
	}
	fields := t.Fields()
	if e.Index >= len(fields) {
		c.errorf(e.IndexSp, "type", "index %d is out of range: the tuple has %d elements (.0 to .%d)", e.Index, len(fields), len(fields)-1)
		return types.None
	}
	return fields[e.Index]
}

// text is the source text of e, for messages.
func (c *checker) text(e syntax.Expr) string {
	sp := e.Span()
	s := c.info.Program.File.Text[sp.Start:sp.End]
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

// printValue checks print(x) of a value rather than a whole map.
func (c *checker) printValue(e *syntax.CallExpr) {
	t, reported := c.exprReported(e.Args[0])
	switch {
	case t.Kind == types.Void && !reported:
		c.errorf(e.Args[0].Span(), "arguments", "print() needs a value or a whole map, and this has no value")
	case t.Kind == types.Record:
		c.errorf(e.Args[0].Span(), "arguments", "print() cannot print a whole struct in this version").
			Hint("print the members you need")
	case t.Kind == types.Array:
		c.arrayValue(t, e.Args[0])
	}
}

// retypeVars gives every read of a scratch variable the variable's final
// type, and tuple elements read from it theirs: a string or tuple variable
// widens at its longest assignment, which a loop may run before an earlier
// read in the source.
func (c *checker) retypeVars(in *Instance) {
	var nodes []syntax.Node
	syntax.Inspect(in.Probe, func(n syntax.Node) bool {
		if n != nil {
			nodes = append(nodes, n)
		}
		return true
	})
	for _, n := range slices.Backward(nodes) {
		switch e := n.(type) {
		case *syntax.VarExpr:
			if t, ok := in.Vars[e.Key()]; ok {
				if _, typed := in.Types[e]; typed {
					in.Types[e] = t
				}
			}
		case *syntax.TupleIndex:
			if t := in.Types[e.X]; t.Kind == types.Tuple && e.Index < len(t.Fields()) {
				in.Types[e] = t.Fields()[e.Index]
			}
		}
	}
}

// returnValue checks `return EXPR`: the value is a test probe's result
// (0 passes). Elsewhere a program's return value means something to the
// kernel (a tracepoint program's 0 drops the event for perf), so it is
// not the script's to set.
func (c *checker) returnValue(s *syntax.JumpStmt) {
	t, reported := c.exprReported(s.Value)
	switch {
	case c.cur.Instance.Kind() != probe.Test:
		c.errorf(s.Value.Span(), "return", "only a test probe returns a value, not %s", c.cur.Instance.Name()).
			Hint("write return; to leave the probe")
	case c.scope.callback != nil:
		c.errorf(s.Value.Span(), "return", "a for over a map cannot return a value: its body runs as a callback").
			Hint("set a variable in the loop, break, and return it after the loop")
	case !t.IsInt() && !reported:
		c.errorf(s.Value.Span(), "type", "a test probe returns an integer, not %s", t)
	}
}
