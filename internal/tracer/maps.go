package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Maps reads and resets the script's maps from user space.
type Maps struct {
	// Frames makes Read decode stacks as []Frame rather than as the text
	// they print as: for readers that want values, not output.
	Frames bool
	obj    *load.Object
	ncpu   int
	sym    *symbolizer
}

// NewMaps reads the maps of obj.
func NewMaps(obj *load.Object) *Maps {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		n = 1
	}
	return &Maps{obj: obj, ncpu: n, sym: newSymbolizer(obj)}
}

// WithFrames returns a reader of the same maps that decodes stacks as
// []Frame, whatever Frames says: for snapshots taken beside the output.
func (ms *Maps) WithFrames() *Maps {
	c := *ms
	c.Frames = true
	return &c
}

// raw is one element: its key and, per CPU for per-CPU maps, its value.
type raw struct {
	key    []byte
	values [][]byte
}

// batchSize is how many elements one BPF_MAP_LOOKUP_BATCH call fetches.
const batchSize = 4096

// batchBytes bounds the buffers of one batch: a map of stacks has keys of
// a kilobyte.
const batchBytes = 1 << 20

// dump reads every element of m, in batches where the kernel supports it.
func (ms *Maps) dump(pm *plan.Map) ([]raw, error) {
	m := ms.obj.Map(pm.BPFName)
	out, err := ms.dumpBatch(m, pm)
	if errors.Is(err, ebpf.ErrNotSupported) {
		return ms.dumpIterate(m, pm)
	}
	return out, err
}

func (ms *Maps) cpus(pm *plan.Map) int {
	if pm.PerCPU() {
		return ms.ncpu
	}
	return 1
}

func (ms *Maps) dumpBatch(m *ebpf.Map, pm *plan.Map) ([]raw, error) {
	keyT := reflect.ArrayOf(pm.KeySize, reflect.TypeFor[byte]())
	valT := reflect.ArrayOf(pm.ValueSize, reflect.TypeFor[byte]())
	cpus := ms.cpus(pm)
	size := max(1, min(batchSize, int(m.MaxEntries()), batchBytes/(pm.KeySize+cpus*pm.ValueSize)))
	keys := reflect.MakeSlice(reflect.SliceOf(keyT), size, size)
	vals := reflect.MakeSlice(reflect.SliceOf(valT), size*cpus, size*cpus)
	// The batches' bytes, seen as one byte slice each: a slice of byte
	// arrays is contiguous.
	keyBytes := unsafe.Slice((*byte)(keys.UnsafePointer()), size*pm.KeySize)
	valBytes := unsafe.Slice((*byte)(vals.UnsafePointer()), size*cpus*pm.ValueSize)
	var cursor ebpf.MapBatchCursor
	var out []raw
	for {
		n, err := m.BatchLookup(&cursor, keys.Interface(), vals.Interface(), nil)
		// One copy per batch, which the elements slice: thousands of
		// small allocations cost more than the reads.
		keySlab := slices.Clone(keyBytes[:n*pm.KeySize])
		valSlab := slices.Clone(valBytes[:n*cpus*pm.ValueSize])
		perCPU := make([][]byte, n*cpus)
		out = slices.Grow(out, n)
		for i := 0; i < n; i++ {
			for c := range cpus {
				j := i*cpus + c
				perCPU[j] = valSlab[j*pm.ValueSize : (j+1)*pm.ValueSize : (j+1)*pm.ValueSize]
			}
			out = append(out, raw{key: keySlab[i*pm.KeySize : (i+1)*pm.KeySize : (i+1)*pm.KeySize], values: perCPU[i*cpus : (i+1)*cpus : (i+1)*cpus]})
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func bytesOf(v reflect.Value) []byte {
	b := make([]byte, v.Len())
	reflect.Copy(reflect.ValueOf(b), v)
	return b
}

func (ms *Maps) dumpIterate(m *ebpf.Map, pm *plan.Map) ([]raw, error) {
	key := make([]byte, pm.KeySize)
	cpus := ms.cpus(pm)
	var out []raw
	it := m.Iterate()
	if cpus == 1 {
		val := make([]byte, pm.ValueSize)
		for it.Next(&key, &val) {
			out = append(out, raw{key: append([]byte(nil), key...), values: [][]byte{append([]byte(nil), val...)}})
		}
		return out, it.Err()
	}
	valT := reflect.ArrayOf(pm.ValueSize, reflect.TypeFor[byte]())
	vals := reflect.MakeSlice(reflect.SliceOf(valT), cpus, cpus)
	for it.Next(&key, vals.Interface()) {
		r := raw{key: append([]byte(nil), key...)}
		for c := 0; c < cpus; c++ {
			r.values = append(r.values, bytesOf(vals.Index(c)))
		}
		out = append(out, r)
	}
	return out, it.Err()
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
				bucket := int(binary.LittleEndian.Uint64(e.key[pm.KeySize-8:]))
				h[bucket] += uint64(sumCPUs(e.values, 0))
			}
			m.Entries = append(m.Entries, output.Entry{Key: g.key, Value: h})
		}
		return m, nil
	}
	for _, e := range elems {
		m.Entries = append(m.Entries, output.Entry{Key: ms.decodeKey(pm, e.key), Value: ms.combine(pm, e.values)})
	}
	return m, nil
}

// keyGroup is the elements of one script key of a map whose BPF key ends
// in 8 more bytes: a histogram's bucket, a time series' slot.
type keyGroup struct {
	key   []any
	elems []raw
}

// group gathers pm's elements by script key, in the order each key first
// appears, decoding each key once.
func (ms *Maps) group(pm *plan.Map, elems []raw) []*keyGroup {
	byKey := map[string]*keyGroup{}
	var out []*keyGroup
	for _, e := range elems {
		prefix := string(e.key[:pm.KeySize-8])
		g, ok := byKey[prefix]
		if !ok {
			g = &keyGroup{key: ms.decodeKey(pm, e.key)}
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
	m := ms.obj.Map(pm.BPFName)
	for _, e := range elems {
		if err := m.Delete(e.key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
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
	m := ms.obj.Map(pm.BPFName)
	var zero any = make([]byte, pm.ValueSize)
	if cpus := ms.cpus(pm); cpus > 1 {
		valT := reflect.ArrayOf(pm.ValueSize, reflect.TypeFor[byte]())
		zero = reflect.MakeSlice(reflect.SliceOf(valT), cpus, cpus).Interface()
	}
	for _, e := range elems {
		if err := m.Update(e.key, zero, ebpf.UpdateExist); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("zero @%s: %w", pm.Name, err)
		}
	}
	return nil
}

// Stats returns the StatsMap counters: lost events, then failed updates
// per map.
func (ms *Maps) Stats() ([]uint64, error) {
	m := ms.obj.Map(plan.StatsMap)
	out := make([]uint64, m.ValueSize()/8)
	if err := m.Lookup(uint32(0), out); err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	return out, nil
}
