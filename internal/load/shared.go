package load

import (
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
	if programs == nil {
		programs = []string{} // none, where load reads nil as all
	}
	return load(r, cfg, programs, prepare)
}
