package check

import (
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Maps that only skipped probes assign. A probe all of whose attach points
// are missing here (missing_probes) is not checked: without an instance
// its body cannot be typed. The maps it alone assigns stay empty while
// the script runs, so the probes that are attached read them as bpftrace
// does: zero, no key, nothing to delete.

// skippedShape is how a skipped probe assigns a map: with how many key
// parts, and (when the value is plainly a string: a literal, comm, str())
// a string of how many bytes.
type skippedShape struct {
	keyed bool
	keys  int
	str   int
}

// plainString returns the size of the string e plainly is without typing
// it, or 0.
func (c *checker) plainString(e syntax.Expr) int {
	switch e := e.(type) {
	case *syntax.StringLit:
		return len(e.Value) + 1
	case *syntax.Ident:
		if e.Name == "comm" {
			return builtins["comm"].Size
		}
	case *syntax.CallExpr:
		if e.Fun == "str" {
			return c.info.Config.MaxStrlen
		}
	}
	return 0
}

// learnSkipped records the maps that probe p, skipped, assigns.
func (c *checker) learnSkipped(p *syntax.Probe) {
	record := func(m *syntax.MapExpr, str int) {
		if c.skippedMaps == nil {
			c.skippedMaps = map[string]skippedShape{}
		}
		c.skippedMaps[m.Name] = skippedShape{keyed: m.Keys != nil, keys: len(m.Keys), str: str}
	}
	syntax.Inspect(p, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.AssignStmt:
			if m, ok := n.Target.(*syntax.MapExpr); ok {
				str := 0
				if n.Op == "=" {
					str = c.plainString(n.Value)
				}
				record(m, str)
			}
		case *syntax.IncDecExpr:
			if m, ok := n.X.(*syntax.MapExpr); ok {
				record(m, 0)
			}
		}
		return true
	})
}

// lookupMap returns the map e names, keys typed from e (nil for a whole
// map). A map that only skipped probes assign is defined from this use, as
// an empty map of integers (or of strings, when they plainly assign
// strings), once every attached probe's assignments are known (after the
// learning walk).
func (c *checker) lookupMap(e *syntax.MapExpr, keys []types.Type) (*Map, bool) {
	if m, ok := c.info.Maps[e.Name]; ok {
		return m, true
	}
	shape, ok := c.skippedMaps[e.Name]
	if !ok || c.learning {
		return nil, false
	}
	m := &Map{Name: e.Name, Kind: output.Scalar, Keyed: shape.keyed, Value: types.Int64, Def: e.Sp}
	if shape.str > 0 {
		m.Kind, m.Value = output.String, types.String(shape.str)
	}
	if e.Keys != nil {
		m.Keys = keys
	} else {
		for range shape.keys {
			m.Keys = append(m.Keys, types.Int64)
		}
	}
	c.info.Maps[e.Name] = m
	return m, true
}
