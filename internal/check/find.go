package check

import (
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// find types find(@map, key, $var): whether the map holds key, and when
// it does, $var takes its value as $var = @map[key] would, from the one
// lookup. Maps of integers and strings only: an aggregation's value is
// every CPU's combined, which takes more than one lookup.
func (c *checker) find(e *syntax.CallExpr) types.Type {
	a, isMap := e.Args[0].(*syntax.MapExpr)
	v, isVar := e.Args[2].(*syntax.VarExpr)
	if !isMap || a.Keys != nil || !isVar {
		for _, x := range e.Args {
			if m, ok := x.(*syntax.MapExpr); ok && m.Keys == nil {
				c.cur.Types[m] = types.None // a whole map is no value
				continue
			}
			c.expr(x)
		}
		c.errorf(e.Sp, "arguments", "find() takes a whole map such as @x, a key and a variable: find(@x, key, $v)")
		return types.Boolean
	}
	m, key, _, ok := c.keyedMap(a, e.Args[1:2], e.Sp)
	switch {
	case !ok:
	case m.Kind != output.String && (m.Kind != output.Scalar || !m.Value.IsInt()):
		c.errorf(a.Sp, "arguments", "find() reads maps of integers or strings; @%s holds %s", a.Name, kindName(m.Kind)).
			Hint("has_key(@%s, key) and @%s[key] read it", a.Name, a.Name)
	default:
		c.assign(&syntax.AssignStmt{Target: v, Op: "=", OpSp: e.Sp, Value: key}) // mapRead unifies the keys
		c.cur.Types[v] = c.cur.Vars[v.Key()]
	}
	return types.Boolean
}
