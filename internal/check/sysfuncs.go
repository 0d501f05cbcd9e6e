package check

import (
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// sysBuiltins are the identifiers this file gives values.
var sysBuiltins = map[string]types.Type{
	"cgroup":   types.UInt64,
	"username": types.Rendered(types.RenderUser),
}

// length types len(@map), the number of entries, and len(kstack) or
// len(ustack), the number of frames.
func (c *checker) length(e *syntax.CallExpr) types.Type {
	switch a := e.Args[0].(type) {
	case *syntax.MapExpr:
		if a.Keys != nil {
			c.keys(a)
			c.errorf(a.Sp, "arguments", "len() takes a whole map such as @x, not one element")
			return types.Int64
		}
		c.cur.Types[a] = types.None
		m, ok := c.lookupMap(a, nil)
		if !ok {
			if !c.learning {
				c.unassigned(a.Sp, a.Name, "never assigned")
			}
			return types.Int64
		}
		if !m.Keyed {
			c.errorf(a.Sp, "arguments", "len() counts the keys of a keyed map; @%s has no keys", a.Name).
				Hint("a map without keys has one value; give it keys, as in @%s[pid]", a.Name)
		}
		if m.Kind.Bucketed() {
			what, parts := bucketed(m)
			c.errorf(a.Sp, "arguments", "len() cannot count the keys of %s: its %s are separate elements", what, parts)
		}
		return types.Int64
	}
	t, reported := c.exprReported(e.Args[0])
	if t.Kind != types.Stack && !reported {
		c.errorf(e.Args[0].Span(), "type", "len() takes a map such as @x, kstack or ustack, not %s", t).
			Hint("strlen() is the length of a string")
	}
	return types.Int64
}

// keyedMap types the map and key of a call that looks a key up in a whole
// map, has_key(@m, k) or find(@m, k, $v): the map read with the key, and
// whether it is a map with keys that the script assigns.
func (c *checker) keyedMap(a *syntax.MapExpr, key []syntax.Expr, call source.Span) (*Map, *syntax.MapExpr, []types.Type, bool) {
	c.cur.Types[a] = types.None
	read := &syntax.MapExpr{Name: a.Name, Keys: key, Sp: call}
	keys := c.keys(read)
	m, ok := c.lookupMap(read, keys)
	switch {
	case !ok:
		if !c.learning {
			c.unassigned(a.Sp, a.Name, "never assigned")
		}
		return nil, read, keys, false
	case !m.Keyed:
		c.errorf(a.Sp, "arguments", "@%s has no keys", a.Name).Hint("read it as @%s", a.Name)
		return nil, read, keys, false
	}
	return m, read, keys, true
}

// hasKey types has_key(@map, key).
func (c *checker) hasKey(e *syntax.CallExpr) types.Type {
	a, ok := e.Args[0].(*syntax.MapExpr)
	if !ok || a.Keys != nil {
		c.args(e)
		c.errorf(e.Args[0].Span(), "arguments", "has_key() takes a whole map such as @x and a key")
		return types.Boolean
	}
	m, key, keys, ok := c.keyedMap(a, e.Args[1:], e.Sp)
	switch {
	case !ok:
	case m.Kind.Bucketed():
		what, parts := bucketed(m)
		c.errorf(a.Sp, "arguments", "has_key() cannot look into %s: its %s are separate elements", what, parts)
	case len(keys) == 1 && len(m.Keys) > 1:
		c.errorf(e.Args[1].Span(), "map-key", "@%s has %d key parts; has_key() takes one key part here", a.Name, len(m.Keys)).
			Hint("a key of several parts needs tuples, which this version does not have")
	default:
		c.unifyKeys(m, key, keys)
	}
	return types.Boolean
}
