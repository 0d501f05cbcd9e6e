package tracer

import (
	"fmt"
	"slices"

	"github.com/ebtrace/ebtrace/internal/flame"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/types"
)

// StackMaps returns the maps of p that flame graphs can draw: keyed by at
// least one stack and holding a count, a sum or a plain integer.
func StackMaps(p *plan.Plan) []*plan.Map {
	var out []*plan.Map
	for _, pm := range p.Maps {
		switch pm.Kind {
		case output.Count, output.Sum, output.Scalar:
		default:
			continue
		}
		if slices.ContainsFunc(pm.Keys, func(k plan.Part) bool { return k.Type.Kind == types.Stack }) {
			out = append(out, pm)
		}
	}
	return out
}

// Samples reads the stack maps as flame graph samples. Each key becomes one
// stack, root first: its other key parts as frames (a comm, say), then
// the user stack's frames from main down, then the kernel stack's, so
// that a kernel stack sits on the user stack that entered the kernel.
func (s *Session) Samples() ([]flame.Sample, error) {
	var out []flame.Sample
	for _, pm := range StackMaps(s.plan) {
		elems, err := s.maps.dump(pm)
		if err != nil {
			return nil, fmt.Errorf("read map @%s: %w", pm.Name, err)
		}
		for _, e := range elems {
			// A flame graph has no negative widths: sum(-1) draws nothing.
			if v := sumCPUs(e.Values, 0); v > 0 {
				out = append(out, flame.Sample{Frames: s.maps.frames(pm, e.Key), Value: uint64(v)})
			}
		}
	}
	return out, nil
}

// frames lays out one key of a stack map as frame names, root first.
func (ms *Maps) frames(pm *plan.Map, key []byte) []string {
	var labels, user, kernel []string
	for _, part := range pm.Keys {
		b := key[part.Offset:]
		if part.Type.Kind != types.Stack {
			labels = append(labels, fmt.Sprint(ms.value(b, part.Type)))
			continue
		}
		_, names := ms.sym.render(b, part.Type, "")
		names = slices.Clone(names)
		slices.Reverse(names)
		if part.Type.AddrSpace == types.User {
			user = append(user, names...)
		} else {
			kernel = append(kernel, names...)
		}
	}
	return slices.Concat(labels, user, kernel)
}
