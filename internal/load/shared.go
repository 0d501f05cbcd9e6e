package load

import (
	"slices"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/plan"
)

// LoadShared loads only the named programs of r, against maps that outlive
// the object: ebtrace shell compiles its whole session for each probe typed
// and loads the new probe alone, on the maps its earlier probes write.
// prepare sees the spec (every map, only those programs) and r's plan and
// returns the existing maps, by kernel name, to use in place of the spec's;
// it may resize the spec's maps to match them. The other maps are created, the
// config map holding cfg. Closing the object leaves the given maps open.
func LoadShared(r *compile.Result, cfg Config, programs []string, prepare func(*ebpf.CollectionSpec, *plan.Plan) (map[string]*ebpf.Map, error)) (*Object, error) {
	spec, err := relocatedSpec(r)
	if err != nil {
		return nil, err
	}
	keep := map[string]*ebpf.ProgramSpec{}
	for _, p := range r.Programs {
		if ps, ok := spec.Programs[p.Name]; ok && slices.Contains(programs, p.Name) {
			if err := p.Instance.Instance.Available(); err != nil {
				return nil, err
			}
			keep[p.Name] = ps
		}
	}
	spec.Programs = keep
	if err := missingHelpers(r, spec); err != nil {
		return nil, err
	}
	spec.Maps[plan.ConfigMap].Contents = []ebpf.MapKV{{Key: uint32(0), Value: cfg.bytes()}}
	replace, err := prepare(spec, r.Plan)
	if err != nil {
		return nil, err
	}
	if _, ok := replace[plan.ConfigMap]; ok {
		spec.Maps[plan.ConfigMap].Contents = nil
	}
	coll, err := newCollection(spec, replace)
	if err != nil {
		return nil, explain(r, err)
	}
	return &Object{Result: r, cfg: cfg, coll: coll}, nil
}
