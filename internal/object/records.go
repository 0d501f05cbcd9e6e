package object

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ebtrace/ebtrace/internal/btfvalue"
)

// recordTag is the BTF declaration tag by which an object says what its
// ring buffer or perf event array carries:
//
//	struct { __uint(type, BPF_MAP_TYPE_RINGBUF); ... } events SEC(".maps")
//		__attribute__((btf_decl_tag("ebtrace.record=struct event")));
//
// libbpf and the kernel ignore the tag, so the object still loads
// elsewhere. Without it records show as hex bytes.
const recordTag = "ebtrace.record="

// recordReader reads one ring buffer or perf event array.
type recordReader struct {
	name string
	typ  btf.Type // nil: shown as hex
	ring *ringbuf.Reader
	perf *perf.Reader
}

// Record is one record of a ring buffer or perf event array.
type Record struct {
	Map   string
	Value any // decoded as btfvalue does, or a hex string
	Lost  uint64
}

// newRecordReaders opens a reader on every ring buffer and perf event
// array of the collection.
func newRecordReaders(spec *ebpf.CollectionSpec, coll *ebpf.Collection) ([]*recordReader, error) {
	var out []*recordReader
	for name, m := range coll.Maps {
		if m.Type() != ebpf.RingBuf && m.Type() != ebpf.PerfEventArray {
			continue
		}
		typ, err := recordType(spec, name)
		if err != nil {
			return out, err
		}
		r := &recordReader{name: name, typ: typ}
		if m.Type() == ebpf.RingBuf {
			r.ring, err = ringbuf.NewReader(m)
		} else {
			r.perf, err = perf.NewReader(m, 64*os.Getpagesize())
		}
		if err != nil {
			return out, fmt.Errorf("read map %s: %w", name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// recordType is the type the map variable name's recordTag names.
func recordType(spec *ebpf.CollectionSpec, name string) (btf.Type, error) {
	if spec.Types == nil {
		return nil, nil
	}
	var v *btf.Var
	if err := spec.Types.TypeByName(name, &v); err != nil {
		return nil, nil
	}
	for _, tag := range v.Tags {
		want, ok := strings.CutPrefix(tag, recordTag)
		if !ok {
			continue
		}
		kind, typeName, ok := strings.Cut(strings.TrimSpace(want), " ")
		var t btf.Type
		switch {
		case ok && kind == "struct":
			var s *btf.Struct
			if err := spec.Types.TypeByName(typeName, &s); err == nil {
				t = s
			}
		case ok && kind == "union":
			var u *btf.Union
			if err := spec.Types.TypeByName(typeName, &u); err == nil {
				t = u
			}
		default:
			var td *btf.Typedef
			if err := spec.Types.TypeByName(want, &td); err == nil {
				t = td
			}
		}
		if t == nil {
			return nil, fmt.Errorf("map %s: its tag %q names no type of the object's BTF (a type only declared is not emitted: use it, e.g. in a variable or as a map's value)", name, tag)
		}
		return t, nil
	}
	return nil, nil
}

// read returns the next record, waiting for one; after flush it returns
// ringbuf.ErrFlushed (perf.ErrFlushed) once none is buffered.
func (r *recordReader) read() (Record, error) {
	var raw []byte
	rec := Record{Map: r.name}
	if r.ring != nil {
		got, err := r.ring.Read()
		if err != nil {
			return rec, err
		}
		raw = got.RawSample
	} else {
		got, err := r.perf.Read()
		if err != nil {
			return rec, err
		}
		if got.LostSamples > 0 {
			rec.Lost = got.LostSamples
			return rec, nil
		}
		raw = got.RawSample
	}
	rec.Value = r.decode(raw)
	return rec, nil
}

// decode shows raw as the record's type, or as hex when the object names
// none or the record does not fit it.
func (r *recordReader) decode(raw []byte) any {
	if r.typ != nil {
		if v, err := btfvalue.Decode(r.typ, raw); err == nil {
			return v
		}
	}
	return hex.EncodeToString(raw)
}

// flush makes a waiting read return, and the reads after it return what
// is buffered, then ErrFlushed.
func (r *recordReader) flush() {
	if r.ring != nil {
		r.ring.Flush()
	} else {
		r.perf.Flush()
	}
}

// Close stops the reader; a Read waiting returns os.ErrClosed.
func (r *recordReader) Close() error {
	var err error
	if r.ring != nil {
		err = r.ring.Close()
	} else {
		err = r.perf.Close()
	}
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
