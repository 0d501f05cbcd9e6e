package tracer

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// Kernel is the Backend of a script loaded into the kernel.
func Kernel(obj *load.Object) Backend {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		n = 1
	}
	return &kernelBackend{obj: obj, ncpu: n}
}

type kernelBackend struct {
	obj  *load.Object
	ncpu int
}

func (k *kernelBackend) Result() *compile.Result { return k.obj.Result }

func (k *kernelBackend) Map(name string) Map {
	m := k.obj.Map(name)
	if m == nil {
		return nil
	}
	cpus := 1
	switch m.Type() {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.PerCPUCGroupStorage:
		cpus = k.ncpu
	}
	km := &kernelMap{m: m, cpus: cpus}
	// A full map's stat counts a slot's events when the slot is moved.
	if name == plan.StatsMap && k.obj.Result.Plan.SlotStride > 0 {
		km.flush = k.obj.FlushSlots
	}
	for _, pm := range k.obj.Result.Plan.Maps {
		if pm.BPFName == name && pm.Slotted {
			km.flush = k.obj.FlushSlots
		}
	}
	return km
}

func (k *kernelBackend) Events() (EventReader, error) {
	ring := k.obj.Map(plan.EventsMap)
	if ring == nil {
		return &noEvents{closed: make(chan struct{})}, nil
	}
	rd, err := ringbuf.NewReader(ring)
	if err != nil {
		return nil, err
	}
	return &ringReader{rd: rd}, nil
}

func (k *kernelBackend) Programs(kind probe.Kind) []*compile.Program { return k.obj.Programs(kind) }
func (k *kernelBackend) Run(kind probe.Kind) error                   { return k.obj.Run(kind) }
func (k *kernelBackend) RunOnce(p *compile.Program) (uint32, error)  { return k.obj.RunOnce(p) }
func (k *kernelBackend) Stop() error                                 { return k.obj.Stop() }

func (k *kernelBackend) Benchmark(p *compile.Program, d time.Duration) (time.Duration, error) {
	mean, _, err := k.obj.Benchmark(p, d)
	return mean, err
}

// ringReader reads a ring buffer into one record, reused from read to
// read.
type ringReader struct {
	rd  *ringbuf.Reader
	rec ringbuf.Record
}

func (r *ringReader) Read() ([]byte, error) {
	if err := r.rd.ReadInto(&r.rec); err != nil {
		return nil, err
	}
	return r.rec.RawSample, nil
}

func (r *ringReader) SetDeadline(t time.Time) { r.rd.SetDeadline(t) }
func (r *ringReader) Close() error            { return r.rd.Close() }

// noEvents reads the events of a collection without a ring, whose
// programs send none: each Read waits out its deadline.
type noEvents struct {
	deadline time.Time
	closed   chan struct{}
	once     sync.Once
}

func (n *noEvents) Read() ([]byte, error) {
	var expired <-chan time.Time
	if !n.deadline.IsZero() {
		t := time.NewTimer(time.Until(n.deadline))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-expired:
		return nil, os.ErrDeadlineExceeded
	case <-n.closed:
		return nil, os.ErrClosed
	}
}

func (n *noEvents) SetDeadline(t time.Time) { n.deadline = t }

func (n *noEvents) Close() error {
	n.once.Do(func() { close(n.closed) })
	return nil
}

// kernelMap is a kernel map whose values are cpus wide.
type kernelMap struct {
	m    *ebpf.Map
	cpus int
	// flush, for a map with count slots (or the stats, which count what
	// a full one dropped), moves the slots into their maps first.
	flush func() error
}

func (km *kernelMap) MaxEntries() uint32 { return km.m.MaxEntries() }

func (km *kernelMap) NextKey(key []byte) ([]byte, error) {
	next := make([]byte, km.m.KeySize())
	// A nil slice in an interface is not the nil key that asks for the
	// first.
	var prev any
	if key != nil {
		prev = key
	} else if err := km.flushSlots(); err != nil {
		return nil, err
	}
	return next, km.m.NextKey(prev, next)
}

// flushSlots moves the count slots into their maps before a read of one.
func (km *kernelMap) flushSlots() error {
	if km.flush == nil {
		return nil
	}
	return km.flush()
}

func (km *kernelMap) Lookup(key []byte) ([]byte, error) {
	if err := km.flushSlots(); err != nil {
		return nil, err
	}
	val := make([]byte, km.m.ValueSize())
	return val, km.m.Lookup(key, val)
}

func (km *kernelMap) Delete(key []byte) error { return km.m.Delete(key) }

func (km *kernelMap) Update(key []byte, values [][]byte) error {
	var val any = values[0]
	if km.cpus > 1 {
		vals := km.perCPU(len(values))
		for c, v := range values {
			reflect.Copy(vals.Index(c), reflect.ValueOf(v))
		}
		val = vals.Interface()
	}
	return km.m.Update(key, val, ebpf.UpdateExist)
}

// perCPU makes a slice of n values as cilium/ebpf reads and writes the
// values of a per-CPU map: byte arrays of the value's size.
func (km *kernelMap) perCPU(n int) reflect.Value {
	valT := reflect.ArrayOf(int(km.m.ValueSize()), reflect.TypeFor[byte]())
	return reflect.MakeSlice(reflect.SliceOf(valT), n, n)
}

// batchSize is how many elements one BPF_MAP_LOOKUP_BATCH call fetches.
const batchSize = 4096

// batchBytes bounds the buffers of one batch: a map of stacks has keys of
// a kilobyte.
const batchBytes = 1 << 20

// Dump reads every element, in batches where the kernel supports it.
func (km *kernelMap) Dump() ([]Element, error) {
	if err := km.flushSlots(); err != nil {
		return nil, err
	}
	out, err := km.dumpBatch()
	if errors.Is(err, ebpf.ErrNotSupported) {
		return km.dumpIterate()
	}
	return out, err
}

func (km *kernelMap) dumpBatch() ([]Element, error) {
	keySize, valueSize, cpus := int(km.m.KeySize()), int(km.m.ValueSize()), km.cpus
	keyT := reflect.ArrayOf(keySize, reflect.TypeFor[byte]())
	size := max(1, min(batchSize, int(km.m.MaxEntries()), batchBytes/(keySize+cpus*valueSize)))
	keys := reflect.MakeSlice(reflect.SliceOf(keyT), size, size)
	vals := km.perCPU(size * cpus)
	// The batches' bytes, seen as one byte slice each: a slice of byte
	// arrays is contiguous.
	keyBytes := unsafe.Slice((*byte)(keys.UnsafePointer()), size*keySize)
	valBytes := unsafe.Slice((*byte)(vals.UnsafePointer()), size*cpus*valueSize)
	var cursor ebpf.MapBatchCursor
	var out []Element
	for {
		n, err := km.m.BatchLookup(&cursor, keys.Interface(), vals.Interface(), nil)
		// One copy per batch, which the elements slice: thousands of
		// small allocations cost more than the reads.
		keySlab := slices.Clone(keyBytes[:n*keySize])
		valSlab := slices.Clone(valBytes[:n*cpus*valueSize])
		perCPU := make([][]byte, n*cpus)
		out = slices.Grow(out, n)
		for i := 0; i < n; i++ {
			for c := range cpus {
				j := i*cpus + c
				perCPU[j] = valSlab[j*valueSize : (j+1)*valueSize : (j+1)*valueSize]
			}
			out = append(out, Element{Key: keySlab[i*keySize : (i+1)*keySize : (i+1)*keySize], Values: perCPU[i*cpus : (i+1)*cpus : (i+1)*cpus]})
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

func (km *kernelMap) dumpIterate() ([]Element, error) {
	key := make([]byte, km.m.KeySize())
	var out []Element
	it := km.m.Iterate()
	if km.cpus == 1 {
		val := make([]byte, km.m.ValueSize())
		for it.Next(&key, &val) {
			out = append(out, Element{Key: append([]byte(nil), key...), Values: [][]byte{append([]byte(nil), val...)}})
		}
		return out, it.Err()
	}
	vals := km.perCPU(km.cpus)
	for it.Next(&key, vals.Interface()) {
		e := Element{Key: append([]byte(nil), key...)}
		for c := 0; c < km.cpus; c++ {
			e.Values = append(e.Values, bytesOf(vals.Index(c)))
		}
		out = append(out, e)
	}
	return out, it.Err()
}
