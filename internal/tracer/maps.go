package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Maps reads and resets the script's maps from user space.
type Maps struct {
	// Frames makes Read decode stacks as []Frame rather than as the text
	// they print as: for readers that want values, not output.
	Frames bool
	b      Backend
	sym    *symbolizer
}

// NewMaps reads the maps of b.
func NewMaps(b Backend) *Maps {
	return &Maps{b: b, sym: newSymbolizer(b)}
}

// WithFrames returns a reader of the same maps that decodes stacks as
// []Frame, whatever Frames says: for snapshots taken beside the output.
func (ms *Maps) WithFrames() *Maps {
	c := *ms
	c.Frames = true
	return &c
}

// dump reads every element of pm.
func (ms *Maps) dump(pm *plan.Map) ([]Element, error) {
	return ms.b.Map(pm.BPFName).Dump()
}

// Read returns pm's contents, per-CPU values combined and histogram
// buckets grouped under their keys.
func (ms *Maps) Read(pm *plan.Map) (*output.Map, error) {
	elems, err := ms.dump(pm)
	if err != nil {
		return nil, fmt.Errorf("read map @%s: %w", pm.Name, err)
	}
	m := &output.Map{Name: "@" + pm.Name, Kind: pm.Kind, Keyed: pm.Keyed, LMin: pm.LMin, LMax: pm.LMax, LStep: pm.LStep, Bits: pm.Bits, TS: pm.TS}
	if pm.Kind == output.TSeries {
		m.Entries = ms.timeSeries(pm, elems)
		return m, nil
	}
	if pm.Kind == output.Hist || pm.Kind == output.LHist {
		for _, g := range ms.group(pm, elems) {
			h := output.HistValue{}
			for _, e := range g.elems {
				bucket := int(binary.LittleEndian.Uint64(e.Key[pm.KeySize-8:]))
				h[bucket] += uint64(sumCPUs(e.Values, 0))
			}
			m.Entries = append(m.Entries, output.Entry{Key: g.key, Value: h})
		}
		return m, nil
	}
	for _, e := range elems {
		m.Entries = append(m.Entries, output.Entry{Key: ms.decodeKey(pm, e.Key), Value: ms.combine(pm, e.Values)})
	}
	return m, nil
}

// keyGroup is the elements of one script key of a map whose BPF key ends
// in 8 more bytes: a histogram's bucket, a time series' slot.
type keyGroup struct {
	key   []any
	elems []Element
}

// group gathers pm's elements by script key, in the order each key first
// appears, decoding each key once.
func (ms *Maps) group(pm *plan.Map, elems []Element) []*keyGroup {
	byKey := map[string]*keyGroup{}
	var out []*keyGroup
	for _, e := range elems {
		prefix := string(e.Key[:pm.KeySize-8])
		g, ok := byKey[prefix]
		if !ok {
			g = &keyGroup{key: ms.decodeKey(pm, e.Key)}
			byKey[prefix] = g
			out = append(out, g)
		}
		g.elems = append(g.elems, e)
	}
	return out
}

// value decodes one part of a map key or value, rendering symbols as
// text, and stacks too unless ms.Frames is set.
func (ms *Maps) value(b []byte, t types.Type) any {
	return ms.sym.value(b, t, keyIndent, ms.Frames)
}

func (ms *Maps) decodeKey(pm *plan.Map, b []byte) []any {
	var key []any
	for _, part := range pm.Keys {
		v := ms.value(b[part.Offset:], part.Type)
		if u, ok := v.(uint64); ok {
			v = int64(u)
		}
		key = append(key, v)
	}
	return key
}

func sumCPUs(values [][]byte, off int) int64 {
	var sum int64
	for _, v := range values {
		sum += int64(binary.LittleEndian.Uint64(v[off:]))
	}
	return sum
}

// combine folds per-CPU values into one.
func (ms *Maps) combine(pm *plan.Map, values [][]byte) any {
	switch pm.Kind {
	case output.String, output.Scalar:
		// A plain value is never per-CPU (check refuses such a
		// declaration), and as an integer it is always signed.
		return ms.value(values[0], pm.ValueType)
	case output.Count, output.Sum:
		return sumCPUs(values, 0)
	case output.Avg:
		count, total := sumCPUs(values, 0), sumCPUs(values, 8)
		if count == 0 {
			return int64(0)
		}
		return total / count
	case output.Stats:
		return output.StatsValue{Count: sumCPUs(values, 0), Total: sumCPUs(values, 8)}
	case output.Min, output.Max:
		var best int64
		found := false
		for _, v := range values {
			if binary.LittleEndian.Uint64(v[8:]) == 0 {
				continue
			}
			x := int64(binary.LittleEndian.Uint64(v))
			if !found || pm.Kind == output.Min && x < best || pm.Kind == output.Max && x > best {
				best, found = x, true
			}
		}
		return best
	}
	return int64(0)
}

// Clear deletes every element of pm.
func (ms *Maps) Clear(pm *plan.Map) error {
	elems, err := ms.dump(pm)
	if err != nil {
		return err
	}
	m := ms.b.Map(pm.BPFName)
	for _, e := range elems {
		if err := m.Delete(e.Key); err != nil && !errors.Is(err, ErrKeyNotExist) {
			return fmt.Errorf("clear @%s: %w", pm.Name, err)
		}
	}
	return nil
}

// Zero sets every value of pm to zero, keeping the keys.
func (ms *Maps) Zero(pm *plan.Map) error {
	elems, err := ms.dump(pm)
	if err != nil {
		return err
	}
	m := ms.b.Map(pm.BPFName)
	zero := make([]byte, pm.ValueSize)
	for _, e := range elems {
		values := make([][]byte, len(e.Values))
		for c := range values {
			values[c] = zero
		}
		if err := m.Update(e.Key, values); err != nil && !errors.Is(err, ErrKeyNotExist) {
			return fmt.Errorf("zero @%s: %w", pm.Name, err)
		}
	}
	return nil
}

// Stats returns the StatsMap counters: lost events, then failed updates
// per map.
func (ms *Maps) Stats() ([]uint64, error) {
	val, err := ms.b.Map(plan.StatsMap).Lookup(make([]byte, 4))
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	out := make([]uint64, len(val)/8)
	for i := range out {
		out[i] = binary.NativeEndian.Uint64(val[8*i:])
	}
	return out, nil
}
