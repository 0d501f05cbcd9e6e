package check

import (
	"ebtrace/output"
	"ebtrace/syntax"
	"ebtrace/types"
)

// Maps that only skipped probes assign. A probe all of whose attach points
// are missing here (missing_probes) is not checked: without an instance
// its body cannot be typed. The maps it alone assigns stay empty while
// the script runs, so the probes that are attached read them as bpftrace
// does: zero, no key, nothing to delete.

// skippedShape is how a skipped probe assigns a map: with how many key
// parts.
type skippedShape struct {
	keyed bool
	keys  int
}

// learnSkipped records the maps that probe p, skipped, assigns.
func (c *checker) learnSkipped(p *syntax.Probe) {
	record := func(m *syntax.MapExpr) {
		if c.skippedMaps == nil {
			c.skippedMaps = map[string]skippedShape{}
		}
		c.skippedMaps[m.Name] = skippedShape{keyed: m.Keys != nil, keys: len(m.Keys)}
	}
	syntax.Inspect(p, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.AssignStmt:
			if m, ok := n.Target.(*syntax.MapExpr); ok {
				record(m)
			}
		case *syntax.IncDecExpr:
			if m, ok := n.X.(*syntax.MapExpr); ok {
				record(m)
			}
		}
		return true
	})
}

// lookupMap returns the map e names, keys typed from e (nil for a whole
// map). A map that only skipped probes assign is defined from this use, as
// an empty map of integers, once every attached probe's assignments are
// known (after the learning walk).
func (c *checker) lookupMap(e *syntax.MapExpr, keys []types.Type) (*Map, bool) {
	if m, ok := c.info.Maps[e.Name]; ok {
		return m, true
	}
	shape, ok := c.skippedMaps[e.Name]
	if !ok || c.learning {
		return nil, false
	}
	m := &Map{Name: e.Name, Kind: output.Scalar, Keyed: shape.keyed, Value: types.Int64, Def: e.Sp}
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
