package object

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/btfvalue"
	"github.com/ebtrace/ebtrace/internal/output"
)

// rawBytes receives a key or value from cilium/ebpf as the kernel laid it
// out, so that BTF decides how it is read.
type rawBytes []byte

func (r *rawBytes) UnmarshalBinary(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

// shownType reports whether map m is dumped at exit: maps that hold data.
// Event streams, program and map arrays, stack traces (raw addresses)
// and the object's constants and kconfig values are not.
func shownType(name string, t ebpf.MapType) bool {
	switch t {
	case ebpf.RingBuf, ebpf.PerfEventArray, ebpf.ProgramArray, ebpf.ArrayOfMaps, ebpf.HashOfMaps, ebpf.StackTrace:
		return false
	}
	return !strings.HasPrefix(name, ".rodata") && name != ".kconfig"
}

// Maps returns every map that holds data, as ebtrace prints maps: one
// entry per key, keys and values decoded by their BTF types; the globals
// of .data and .bss one map each, named after the variable. Empty maps,
// the elements of an array that are all zero bytes, and the maps named in
// omit (shown otherwise: Hist, heatmaps) are left out.
func (o *Object) Maps(omit []string) ([]*output.Map, error) {
	var out []*output.Map
	for name, m := range o.coll.Maps {
		if !shownType(name, m.Type()) || slices.Contains(omit, name) {
			continue
		}
		if strings.HasPrefix(name, ".") {
			vars, err := o.globals(name, m)
			if err != nil {
				return nil, err
			}
			out = append(out, vars...)
			continue
		}
		elems, err := readElems(m)
		if err != nil {
			return nil, fmt.Errorf("read map %s: %w", name, err)
		}
		if m.Type() == ebpf.Array || m.Type() == ebpf.PerCPUArray {
			// An array holds every index from its creation: those never
			// written to would bury the others.
			elems = slices.DeleteFunc(elems, unwritten)
		}
		if len(elems) == 0 {
			continue
		}
		key, value := o.spec.types(name)
		dumped, err := btfvalue.Map(name, key, value, elems)
		if err != nil {
			return nil, err
		}
		out = append(out, dumped)
	}
	return out, nil
}

// unwritten reports whether every byte of e's values is zero.
func unwritten(e btfvalue.Elem) bool {
	for _, v := range e.Values {
		if slices.ContainsFunc(v, func(b byte) bool { return b != 0 }) {
			return false
		}
	}
	return true
}

// types are the key and value types of map name: from BTF, or for a map
// without (the 2015 loader's maps section), integers of their sizes, or
// bytes.
func (s *Spec) types(name string) (key, value btf.Type) {
	ms := s.spec.Maps[name]
	key, value = ms.Key, ms.Value
	if !typed(key) {
		key = bySize(ms.KeySize)
	}
	if !typed(value) {
		value = bySize(ms.ValueSize)
	}
	return key, value
}

func typed(t btf.Type) bool {
	_, void := t.(*btf.Void)
	return t != nil && !void
}

// bySize is the type an untyped key or value is shown as.
func bySize(size uint32) btf.Type {
	switch size {
	case 1, 2, 4, 8:
		return &btf.Int{Name: "unsigned", Size: size}
	}
	return &btf.Array{Type: &btf.Int{Name: "__u8", Size: 1}, Nelems: size}
}

// globals shows the variables of the data section held by m.
func (o *Object) globals(section string, m *ebpf.Map) ([]*output.Map, error) {
	var data rawBytes
	if err := m.Lookup(uint32(0), &data); err != nil {
		return nil, fmt.Errorf("read %s: %w", section, err)
	}
	var out []*output.Map
	for name, v := range o.spec.spec.Variables {
		if v.SectionName != section || v.Type == nil || int(v.Offset)+int(v.Size()) > len(data) {
			continue
		}
		value, err := btfvalue.Decode(v.Type.Type, data[v.Offset:v.Offset+v.Size()])
		if err != nil {
			return nil, fmt.Errorf("global %s: %w", name, err)
		}
		out = append(out, &output.Map{Name: "@" + name, Kind: output.Scalar, Entries: []output.Entry{{Value: value}}})
	}
	return out, nil
}

// perCPU reports whether maps of type t hold one value per CPU.
func perCPU(t ebpf.MapType) bool {
	switch t {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.PerCPUCGroupStorage:
		return true
	}
	return false
}

// readElems reads every key and value of m, a value per CPU for a
// per-CPU map.
func readElems(m *ebpf.Map) ([]btfvalue.Elem, error) {
	var out []btfvalue.Elem
	var key rawBytes
	it := m.Iterate()
	if perCPU(m.Type()) {
		var values []rawBytes
		for it.Next(&key, &values) {
			e := btfvalue.Elem{Key: slices.Clone(key)}
			for _, v := range values {
				e.Values = append(e.Values, slices.Clone(v))
			}
			out = append(out, e)
		}
	} else {
		var value rawBytes
		for it.Next(&key, &value) {
			out = append(out, btfvalue.Elem{Key: slices.Clone(key), Values: [][]byte{slices.Clone(value)}})
		}
	}
	return out, it.Err()
}

// slots reads map name as a log2 histogram: each key k counts values in
// [2^k, 2^(k+1)).
func (o *Object) slots(name string) (output.HistValue, error) {
	elems, err := readElems(o.coll.Maps[name])
	if err != nil {
		return nil, fmt.Errorf("read map %s: %w", name, err)
	}
	key, value := o.spec.types(name)
	h, err := btfvalue.Slots(key, value, elems)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", name, err)
	}
	return h, nil
}

// Hist returns map name as ebtrace's log2 histogram: its keys are log2
// slots (key k counts values in [2^k, 2^(k+1))), its values counts.
func (o *Object) Hist(name string) (*output.Map, error) {
	h, err := o.slots(name)
	if err != nil {
		return nil, err
	}
	return &output.Map{Name: "@" + name, Kind: output.Hist, Entries: []output.Entry{{Value: h}}}, nil
}

// CheckSlotMaps reports a --hist or --heatmap map the object lacks or
// whose keys or values are not integers, before anything is loaded.
func (s *Spec) CheckSlotMaps(names []string) error {
	var errs []error
	for _, name := range names {
		if _, ok := s.spec.Maps[name]; !ok || strings.HasPrefix(name, ".") {
			errs = append(errs, fmt.Errorf("the object has no map %s%s", name, s.mapsHint()))
			continue
		}
		if err := btfvalue.SlotTypes(s.types(name)); err != nil {
			errs = append(errs, fmt.Errorf("map %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// mapsHint names the object's maps, for an error about a missing one.
func (s *Spec) mapsHint() string {
	var names []string
	for name := range s.spec.Maps {
		if !strings.HasPrefix(name, ".") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return " (it has none)"
	}
	slices.Sort(names)
	return " (it has " + strings.Join(names, ", ") + ")"
}
