package tracer

import (
	"encoding/binary"
	"time"

	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/types"
)

// The maps are scanned for new processes every followInterval, or less
// often when scanning takes long: at most a twentieth of the time.
const (
	followInterval = 10 * time.Millisecond
	followShare    = 20
)

// userKeyed returns the maps whose keys hold user addresses (ustack,
// usym), each with the offsets of the pids that resolve them.
func userKeyed(p *plan.Plan) map[*plan.Map][]int {
	out := map[*plan.Map][]int{}
	for _, pm := range p.Maps {
		for _, part := range pm.Keys {
			if (part.Type.Kind == types.Stack || part.Type.Kind == types.Sym) && part.Type.AddrSpace == types.User {
				out[pm] = append(out[pm], part.Offset+8)
			}
		}
	}
	return out
}

// followProcesses reads the mappings of each process as soon as a map key
// first holds one of its user addresses, until stop is closed: a process
// that exits before the maps are printed (a short command, a child of the
// traced one) still has its stacks resolved. Printf arguments need no
// such help: they are rendered as they arrive.
func (s *Session) followProcesses(stop <-chan struct{}) {
	maps := userKeyed(s.plan)
	if len(maps) == 0 {
		return
	}
	for {
		start := time.Now()
		for pm, offsets := range maps {
			s.maps.eachKey(pm, func(key []byte) {
				for _, off := range offsets {
					if pid := uint32(binary.LittleEndian.Uint64(key[off:])); pid != 0 {
						s.sym.process(pid)
					}
				}
			})
		}
		select {
		case <-stop:
			return
		case <-time.After(max(followInterval, followShare*time.Since(start))):
		}
	}
}

// eachKey calls f with each key of pm. Keys deleted meanwhile make the
// kernel restart the walk, so it stops after twice the map's capacity.
func (ms *Maps) eachKey(pm *plan.Map, f func(key []byte)) {
	m := ms.b.Map(pm.BPFName)
	var key []byte
	for range 2 * m.MaxEntries() {
		next, err := m.NextKey(key)
		if err != nil {
			return // the end (ErrKeyNotExist), or a map gone at exit
		}
		f(next)
		key = next
	}
}
